"""AVA data: dataset, transforms, video I/O, file formats and the mini-AVA generator."""
from .ava import AVAVideoDataset, MissingClipError
from .layouts import FrameSizeMismatchError, build_layout
from .transforms import (BoxJitter, ColorJitter, Flip, PackActionInputs, RandomCrop,
                         RepeatKeyframe, Resize, WidenBoxes)
from .video_io import VideoDecodeError
from .unlabeled import UnlabeledVideoDataset, VideoMultiScaleCrop

__all__ = [
    'AVAVideoDataset', 'BoxJitter', 'ColorJitter', 'Flip', 'FrameSizeMismatchError',
    'MissingClipError', 'build_layout',
    'PackActionInputs', 'RandomCrop', 'RepeatKeyframe', 'Resize', 'VideoDecodeError',
    'WidenBoxes', 'UnlabeledVideoDataset', 'VideoMultiScaleCrop'
]
