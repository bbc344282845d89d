"""Streaming a video for inference: sequential decoding and the keyframe schedule.

Inference never holds a whole video: frames are decoded in order (OpenCV, one pass) and
only the frames that a pending keyframe's clip needs are kept (see
:func:`~videomae_det.apis.inference.detect_video`). Random access (decord,
``videomae_det.datasets.video_io``) would re-seek for every clip; one sequential pass
decodes each frame once.

Time conventions: a keyframe at ``time`` seconds (from the start of the video) sits on
frame ``round(time × fps)``. Its clip is sampled exactly as the training dataset samples
its clips (``videomae_det.datasets.ava.sampling_times`` / ``nearest_frames``):
``clip_len`` frames spaced ``frame_interval`` frames *of the training frame rate*
(``sample_fps``, 25 for AVA clips) apart, keyframe at position ``clip_len // 2``; on a
video at another frame rate each sampling time maps to the nearest frame, so the clip spans
the same seconds the model was trained on. Indices before the first or after the last
frame are clamped (edge frames repeat, as in the dataset).
"""
import os
from dataclasses import dataclass
from typing import Iterator, List, Tuple, Union

import cv2
import numpy as np

from videomae_det.datasets.ava import nearest_frames, sampling_times
from videomae_det.datasets.video_io import VideoDecodeError, VideoNotFoundError

PathLike = Union[str, os.PathLike]


class VideoStream:
    """Reads a video front to back, one RGB frame at a time.

    Attributes:
        path: the video file.
        num_frames, fps, height, width: stream metadata from the container.

    Iterating yields ``(frame_index, frame)`` with ``frame`` uint8 ``(H, W, 3)`` RGB. If
    the decoder stops before ``num_frames`` frames (truncated or corrupt file), the
    iteration raises :class:`VideoDecodeError` naming the file and the first frame that
    could not be decoded, after yielding every frame before it.
    """

    def __init__(self, path: PathLike):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise VideoNotFoundError(self.path)
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise VideoDecodeError(self.path, 'cannot open the container (unsupported format, '
                                   'or a truncated/corrupt file)')
        self.num_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.fps = float(cap.get(cv2.CAP_PROP_FPS))
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        if self.num_frames <= 0 or not self.fps > 0 or self.width <= 0 or self.height <= 0:
            raise VideoDecodeError(
                self.path, f'no usable stream metadata (frames={self.num_frames}, '
                f'fps={self.fps}, size={self.width}x{self.height})')

    @property
    def duration(self) -> float:
        """Length in seconds (``num_frames / fps``)."""
        return self.num_frames / self.fps

    def __iter__(self) -> Iterator[Tuple[int, np.ndarray]]:
        cap = cv2.VideoCapture(self.path)
        try:
            index = 0
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                if bgr.shape[:2] != (self.height, self.width):
                    raise VideoDecodeError(
                        self.path, f'frame {index} is {bgr.shape[1]}x{bgr.shape[0]}, the stream '
                        f'says {self.width}x{self.height}')
                yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            cap.release()
        if index < self.num_frames:
            raise VideoDecodeError(
                self.path, f'decoding stopped at frame {index} of {self.num_frames} '
                f'(truncated or corrupt file); frames 0..{index - 1} were decoded')


@dataclass
class Keyframe:
    """One keyframe of the schedule.

    Attributes:
        index: position in the schedule (0, 1, ...).
        time: seconds from the start of the video.
        frame_index: the video frame the keyframe sits on.
        clip_indices: int64 ``(clip_len,)`` frame indices of its clip, in time order.
    """
    index: int
    time: float
    frame_index: int
    clip_indices: np.ndarray

    @property
    def last_frame(self) -> int:
        """The last frame that must be decoded before this keyframe can be processed."""
        return max(self.frame_index, int(self.clip_indices.max()))


def clip_frame_indices(time: float, fps: float, num_frames: int, clip_len: int,
                       frame_interval: int, sample_fps: float = 25.0) -> np.ndarray:
    """Frame indices ``(clip_len,)`` of the clip around the keyframe at ``time`` s of a
    ``fps`` video with ``num_frames`` frames (sampled as the training dataset does)."""
    times = sampling_times(time, clip_len, frame_interval, sample_fps)
    return nearest_frames(times, fps, 0.0, 0, num_frames - 1)


def keyframe_schedule(num_frames: int, fps: float, interval: float, clip_len: int,
                      frame_interval: int, sample_fps: float = 25.0) -> List[Keyframe]:
    """Keyframes every ``interval`` seconds from time 0 while they fall inside the video."""
    if not interval > 0:
        raise ValueError(f'keyframe interval must be > 0 seconds; got {interval}')
    schedule = []
    k = 0
    while True:
        time = k * interval
        frame_index = int(nearest_frames(np.array([time]), fps)[0])
        if frame_index >= num_frames:
            return schedule
        schedule.append(
            Keyframe(k, time, frame_index,
                     clip_frame_indices(time, fps, num_frames, clip_len, frame_interval,
                                        sample_fps)))
        k += 1
