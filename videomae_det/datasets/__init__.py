"""AVA data: dataset, transforms, video I/O, file formats and the mini-AVA generator."""
from .ava import AVAVideoDataset
from .transforms import (BoxJitter, ColorJitter, Flip, PackActionInputs, RandomCrop,
                         RepeatKeyframe, Resize, WidenBoxes)
from .unlabeled import UnlabeledVideoDataset, VideoMultiScaleCrop

__all__ = [
    'AVAVideoDataset', 'BoxJitter', 'ColorJitter', 'Flip', 'PackActionInputs', 'RandomCrop',
    'RepeatKeyframe', 'Resize', 'WidenBoxes', 'UnlabeledVideoDataset', 'VideoMultiScaleCrop'
]
