"""Streaming a video for inference: sequential decoding and the keyframe schedule.

Inference never holds a whole video: frames are decoded in order (OpenCV, one pass) and
only the frames that a pending keyframe's clip needs are kept (see
:func:`~videomae_det.apis.inference.detect_video`). Random access (decord,
``videomae_det.datasets.video_io``) would re-seek for every clip; one sequential pass
decodes each frame once.

Time conventions: every frame carries its presentation timestamp (seconds from the start
of the stream), and keyframes and clips are placed by those timestamps, never by frame
counts over an average frame rate: a variable-frame-rate video (phone recordings, screen
captures, streams) would otherwise drift by seconds. A keyframe at ``time`` seconds sits on
the frame whose timestamp is nearest ``time``; its clip is sampled as the training dataset
samples its clips (``videomae_det.datasets.ava.sampling_times``): ``clip_len`` sampling
times ``frame_interval / sample_fps`` seconds apart (``sample_fps`` is the training frame
rate, 25 for AVA clips), keyframe at position ``clip_len // 2``, each taking the frame of
nearest timestamp (ties: the later frame, as ``nearest_frames`` rounds half up). Times
before the first or after the last frame take the edge frame (edge frames repeat, as in the
dataset). On a constant-rate video this is exactly the dataset's index arithmetic
(``keyframe_schedule`` runs the same scheduler on timestamps ``i / fps``).
"""
import bisect
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, Iterator, List, Optional, Tuple, Union

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
        for index, _, frame in self.timed_frames():
            yield index, frame

    def timed_frames(self) -> Iterator[Tuple[int, float, np.ndarray]]:
        """Yield ``(frame_index, time, frame)``: ``time`` is the frame's presentation
        timestamp in seconds from the start of the stream (the container's, so variable
        frame rates come out right), strictly increasing."""
        cap = cv2.VideoCapture(self.path)
        last_time = -np.inf
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
                # a frame without a timestamp (or a repeated one) is placed just after the last
                time = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                last_time = time if time > last_time else last_time + MIN_FRAME_GAP
                yield index, last_time, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            cap.release()
        # The container's frame count is exact for mp4/avi but an estimate (duration × fps)
        # for mkv/webm, and wrong both ways on variable-rate videos: decoding that stops
        # short of it is a truncated file only if it also stops well short of the duration.
        slack = max(2.5 / self.fps, 0.1)  # seconds
        if index < self.num_frames and last_time < self.num_frames / self.fps - slack:
            raise VideoDecodeError(
                self.path, f'decoding stopped at frame {index} of {self.num_frames} '
                f'(truncated or corrupt file); frames 0..{index - 1} were decoded')


# a frame whose timestamp does not advance is placed this far after the previous one
MIN_FRAME_GAP = 1e-6
# timestamps this close count as equal (ties go to the later frame, as in nearest_frames)
TIME_EPS = 1e-6


@dataclass
class Keyframe:
    """One keyframe of the schedule.

    Attributes:
        index: position in the schedule (0, 1, ...; keyframe ``k`` is due at
            ``k × interval`` seconds).
        time: seconds from the start of the video (the scheduled time, not the frame's).
        frame_index: the frame the keyframe sits on (nearest timestamp to ``time``).
        frame_time: that frame's timestamp (seconds).
        clip_indices: int64 ``(clip_len,)`` frame indices of its clip, in time order.
        clip: with frames pushed, uint8 ``(clip_len, H, W, 3)`` the clip's frames.
        image: with frames pushed, the keyframe's own frame.
        placed_at: ``time.monotonic()`` when it was placed (set by streaming inference).
    """
    index: int
    time: float
    frame_index: int
    clip_indices: np.ndarray
    frame_time: float = 0.0
    clip: Optional[np.ndarray] = field(default=None, repr=False)
    image: Optional[np.ndarray] = field(default=None, repr=False)
    placed_at: Optional[float] = field(default=None, repr=False)

    @property
    def last_frame(self) -> int:
        """The last frame that must be decoded before this keyframe can be processed."""
        return max(self.frame_index, int(self.clip_indices.max()))


class ClipScheduler:
    """Places keyframes and gathers their clips from a stream of timestamped frames.

    Feed frames in order with :meth:`push` (``index``, ``time`` in seconds, strictly
    increasing, ``image`` or None); it returns the keyframes whose clips are complete. A
    keyframe is *placed* as soon as the frame nearest its time is known (the first frame at
    or after it has arrived) and *ready* once a frame at or after its last sampling time has
    arrived (no later frame can be nearer). At the end of the stream, :meth:`finish`
    places the keyframes that still fall on the last frame and completes every pending
    clip with the edge frame. Only frames a pending clip may still need are kept, so memory
    is about one clip span whatever the video's length.

    ``accept(keyframe) -> bool``, called at placement, may refuse a keyframe (realtime
    inference drops keyframes the model has no time for); a refused keyframe's clip is
    never gathered. ``on_place(keyframe, accepted)`` is told about every placement.
    """

    def __init__(self, interval: float, clip_len: int, frame_interval: int,
                 sample_fps: float = 25.0,
                 accept: Optional[Callable[[Keyframe], bool]] = None,
                 sample_offset: float = 0.0):
        if not interval > 0:
            raise ValueError(f'keyframe interval must be > 0 seconds; got {interval}')
        self.interval = float(interval)
        # sample_offset: seconds added to every sampled time, as AVAVideoDataset's
        self.offsets = sampling_times(0.0, clip_len, frame_interval, sample_fps) + sample_offset
        self.accept = accept
        self.on_place: Optional[Callable[[Keyframe, bool], None]] = None
        self._frames: Deque[Tuple[int, float, Optional[np.ndarray]]] = deque()
        self._pending: Deque[Keyframe] = deque()  # placed, accepted, clip not yet complete
        self._next = 0  # the next keyframe to place
        self._prev_time: Optional[float] = None
        self._last_gap: Optional[float] = None

    @property
    def buffered(self) -> int:
        """How many frames are held."""
        return len(self._frames)

    def _time_of(self, k: int) -> float:
        return round(k * self.interval, 9)

    def push(self, index: int, time: float, image: Optional[np.ndarray] = None) -> List[Keyframe]:
        """Add the next frame; return the keyframes whose clips it completes, in order."""
        time = float(time)
        if self._prev_time is not None:
            if not time > self._prev_time:
                raise ValueError(f'frame {index}: timestamp {time:.6f} s does not follow '
                                 f'{self._prev_time:.6f} s (timestamps must increase)')
            self._last_gap = time - self._prev_time
        self._frames.append((index, time, image))
        while self._time_of(self._next) <= time + TIME_EPS:
            self._place(self._time_of(self._next))
        self._prev_time = time
        ready = []
        while self._pending and time + TIME_EPS >= self._last_needed(self._pending[0]):
            ready.append(self._complete(self._pending.popleft()))
        self._forget()
        return ready

    def finish(self) -> List[Keyframe]:
        """The stream ended: place the keyframes still on its last frame (those due before
        the last frame's time plus half the gap before it) and complete every pending clip
        with the frames there are."""
        if self._prev_time is not None:
            half = 0.5 * (self._last_gap if self._last_gap is not None else 0.0)
            while self._time_of(self._next) < self._prev_time + half - TIME_EPS:
                self._place(self._time_of(self._next))
        ready = [self._complete(kf) for kf in self._pending]
        self._pending.clear()
        return ready

    def _last_needed(self, kf: Keyframe) -> float:
        return max(kf.time, kf.time + float(self.offsets[-1]))

    def _place(self, time: float) -> None:
        """Place the keyframe due at ``time`` on the frame of nearest timestamp."""
        index, frame_time = self._nearest(time)
        kf = Keyframe(self._next, time, index, np.zeros(0, np.int64), frame_time)
        self._next += 1
        accepted = self.accept is None or bool(self.accept(kf))
        if accepted:
            self._pending.append(kf)
        if self.on_place is not None:
            self.on_place(kf, accepted)

    def _nearest(self, time: float) -> Tuple[int, float]:
        i = self._nearest_position([t for _, t, _ in self._frames], time)
        return self._frames[i][0], self._frames[i][1]

    @staticmethod
    def _nearest_position(times: List[float], time: float) -> int:
        j = bisect.bisect_left(times, time - TIME_EPS)
        if j >= len(times):
            return len(times) - 1
        if j == 0:
            return 0
        # the later frame wins ties
        return j if times[j] - time <= time - times[j - 1] + TIME_EPS else j - 1

    def _complete(self, kf: Keyframe) -> Keyframe:
        times = [t for _, t, _ in self._frames]
        positions = [self._nearest_position(times, kf.time + float(o)) for o in self.offsets]
        kf.clip_indices = np.array([self._frames[p][0] for p in positions], np.int64)
        images = [self._frames[p][2] for p in positions]
        if all(im is not None for im in images):
            kf.clip = np.stack(images)
            key = self._nearest_position(times, kf.frame_time)
            kf.image = self._frames[key][2]
        return kf

    def _forget(self) -> None:
        """Drop frames no pending or future clip can take: all but the last before the
        earliest time still needed."""
        needed = self._time_of(self._next) + min(float(self.offsets[0]), 0.0)
        for kf in self._pending:
            needed = min(needed, kf.time + min(float(self.offsets[0]), 0.0))
        while len(self._frames) >= 2 and self._frames[1][1] <= needed - TIME_EPS:
            self._frames.popleft()


def clip_frame_indices(time: float, fps: float, num_frames: int, clip_len: int,
                       frame_interval: int, sample_fps: float = 25.0) -> np.ndarray:
    """Frame indices ``(clip_len,)`` of the clip around the keyframe at ``time`` s of a
    constant-rate ``fps`` video with ``num_frames`` frames (sampled as the training
    dataset does)."""
    times = sampling_times(time, clip_len, frame_interval, sample_fps)
    return nearest_frames(times, fps, 0.0, 0, num_frames - 1)


def keyframe_schedule(num_frames: int, fps: float, interval: float, clip_len: int,
                      frame_interval: int, sample_fps: float = 25.0,
                      sample_offset: float = 0.0) -> List[Keyframe]:
    """The keyframes of a constant-rate video (frame ``i`` at ``i / fps`` s): every
    ``interval`` seconds from time 0 while they fall inside the video. The same
    :class:`ClipScheduler` that streaming inference runs on real timestamps."""
    return schedule_for_times(np.arange(num_frames) / float(fps), interval, clip_len,
                              frame_interval, sample_fps, sample_offset)


def schedule_for_times(times, interval: float, clip_len: int, frame_interval: int,
                       sample_fps: float = 25.0, sample_offset: float = 0.0) -> List[Keyframe]:
    """The keyframes (with clip frame indices) of frames at ``times`` seconds."""
    scheduler = ClipScheduler(interval, clip_len, frame_interval, sample_fps,
                              sample_offset=sample_offset)
    out = []
    for i, t in enumerate(times):
        out += scheduler.push(i, float(t))
    return out + scheduler.finish()
