"""Where inference frames come from: a video file, a camera, a network stream or a folder
of frames, each yielding ``(frame_index, time, frame)`` with ``time`` in seconds.

- file (``VideoStream``): the container's presentation timestamps.
- camera index (``0``) and stream URL (``rtsp://``, ``http://``, ...): OpenCV's FFmpeg
  capture. These are *live*: frames come at the source's pace whether or not anyone reads
  them, so their time is the wall clock at capture (seconds since the first frame), the
  only clock that keeps keyframes at their interval when frames are lost.
- folder of frames (``frames/0001.jpg``, ...): images in natural name order at a frame
  rate the caller gives (image files carry no time).

:func:`open_source` tells them apart; :class:`LatestFrames` reads a live source on its own
thread into a bounded buffer that drops the oldest frame when the reader falls behind, so
a slow model can never make the latency grow without bound (the realtime mode of
``detect_video``).
"""
import os
import re
import threading
import time
from collections import deque
from pathlib import Path
from typing import Deque, Iterator, List, Optional, Tuple, Union

import cv2
import numpy as np

from videomae_det.apis.video_stream import MIN_FRAME_GAP, VideoStream
from videomae_det.datasets.video_io import VideoDecodeError, VideoNotFoundError

PathLike = Union[str, os.PathLike]
TimedFrame = Tuple[int, float, np.ndarray]

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
# what a stream URL starts with (FFmpeg's network protocols)
URL_SCHEMES = ('rtsp', 'rtsps', 'rtmp', 'rtmps', 'http', 'https', 'udp', 'tcp', 'srt', 'rtp')


class FileSource(VideoStream):
    """A video file (see :class:`VideoStream`); not live."""
    live = False

    @property
    def video_id(self) -> str:
        return Path(self.path).stem


class CaptureSource:
    """A camera (``index``) or a network stream (``url``), read with OpenCV's capture.

    Attributes:
        name: ``camera 0`` or the URL, for messages.
        fps: the rate the device/stream announces (30 when it announces none); used only
            for the annotated video's rate.
        width, height: frame size.

    ``timed_frames`` yields frames until the stream ends (a camera: until closed);
    ``time`` is the wall clock at capture, seconds since the first frame. With
    ``clock='stream'`` (set by non-realtime inference, which reads every frame however
    slowly) it is the stream's own timestamp when the stream has them (RTSP does, MJPEG
    over HTTP does not), since read times then say when a frame was read, not shown.
    """
    live = True

    def __init__(self, target: Union[int, str], open_timeout: float = 10.0):
        self.target = target
        self.name = f'camera {target}' if isinstance(target, int) else str(target)
        # FFmpeg's network timeouts, microseconds, so a dead URL fails instead of hanging
        os.environ.setdefault('OPENCV_FFMPEG_CAPTURE_OPTIONS',
                              f'timeout;{int(open_timeout * 1e6)}|rw_timeout;'
                              f'{int(open_timeout * 1e6)}')
        self._cap = cv2.VideoCapture(target)
        if not self._cap.isOpened():
            self._cap.release()
            what = 'camera' if isinstance(target, int) else 'stream'
            raise VideoDecodeError(self.name, f'cannot open the {what} (no such device, '
                                   f'unreachable address or unsupported format)')
        fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self.fps = fps if 0 < fps < 1000 else 30.0
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.num_frames = 0  # unknown: live
        self.t0: Optional[float] = None  # time.monotonic() of the first frame
        self.clock = 'wall'

    @property
    def video_id(self) -> str:
        if isinstance(self.target, int):
            return f'camera{self.target}'
        stem = Path(self.target.split('?')[0].rstrip('/')).stem
        return re.sub(r'[^A-Za-z0-9_-]+', '_', stem) or 'stream'

    def timed_frames(self) -> Iterator[TimedFrame]:
        index, last, stream_t0 = 0, -np.inf, None
        try:
            while True:
                ok, bgr = self._cap.read()
                if not ok:
                    return
                now = time.monotonic()
                if self.t0 is None:
                    self.t0 = now
                t = now - self.t0
                if self.clock == 'stream':
                    pts = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                    if index == 0:
                        stream_t0 = pts
                    elif pts > stream_t0:  # the stream carries timestamps
                        t = pts - stream_t0
                last = max(t, last + MIN_FRAME_GAP)
                if (self.width, self.height) != (bgr.shape[1], bgr.shape[0]):
                    self.width, self.height = bgr.shape[1], bgr.shape[0]
                yield index, last, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        self._cap.release()


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)]


class FrameFolderSource:
    """A folder of images (jpg, png, ...), one frame each, in natural name order
    (``img_2`` before ``img_10``), frame ``i`` at ``i / fps`` seconds."""
    live = False

    def __init__(self, folder: PathLike, fps: Optional[float]):
        self.path = os.fspath(folder)
        self.name = self.path
        if not fps or not fps > 0:
            raise ValueError(f'{folder}: a folder of frames carries no timing; give its frame '
                             f'rate (--fps)')
        self.fps = float(fps)
        self.files: List[str] = sorted(
            (f for f in os.listdir(self.path) if f.lower().endswith(IMAGE_EXTENSIONS)),
            key=_natural_key)
        if not self.files:
            raise VideoDecodeError(self.path, f'no image files ({", ".join(IMAGE_EXTENSIONS)}) '
                                   f'in the folder')
        first = self._read(0)
        self.height, self.width = first.shape[:2]
        self.num_frames = len(self.files)

    @property
    def video_id(self) -> str:
        return Path(self.path.rstrip('/')).name

    def _read(self, i: int) -> np.ndarray:
        path = os.path.join(self.path, self.files[i])
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise VideoDecodeError(path, f'frame {i} of the folder is not a readable image')
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def timed_frames(self) -> Iterator[TimedFrame]:
        for i in range(len(self.files)):
            frame = self._read(i)
            if frame.shape[:2] != (self.height, self.width):
                raise VideoDecodeError(
                    os.path.join(self.path, self.files[i]),
                    f'frame {i} is {frame.shape[1]}x{frame.shape[0]}, the first frame is '
                    f'{self.width}x{self.height}')
            yield i, i / self.fps, frame

    def close(self) -> None:
        pass


def describe_source(source) -> str:
    """``camera``, ``stream``, ``folder`` or ``file``."""
    if isinstance(source, CaptureSource):
        return 'camera' if isinstance(source.target, int) else 'stream'
    return 'folder' if isinstance(source, FrameFolderSource) else 'file'


def open_source(spec: Union[int, PathLike], fps: Optional[float] = None):
    """The frame source ``spec`` names: an int or a string of digits is a camera index, a
    ``scheme://`` string a stream URL, a directory a folder of frames (``fps`` required),
    anything else a video file.

    Raises:
        VideoNotFoundError: a path that does not exist.
        VideoDecodeError: a source that cannot be opened (names it and why).
        ValueError: a folder without ``fps``.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CaptureSource(int(spec))
    text = os.fspath(spec)
    scheme = text.split('://', 1)[0].lower() if '://' in text else ''
    if scheme:
        if scheme not in URL_SCHEMES:
            raise VideoDecodeError(text, f'unknown stream scheme {scheme!r}; one of '
                                   f'{", ".join(URL_SCHEMES)}')
        return CaptureSource(text)
    if os.path.isdir(text):
        return FrameFolderSource(text, fps)
    if not os.path.exists(text):
        raise VideoNotFoundError(text)
    return FileSource(text)


class LatestFrames:
    """Reads a source on a background thread into a buffer of ``maxsize`` frames; when the
    buffer is full the oldest frame is dropped (and counted), so whoever consumes the
    frames always works on recent ones and the source is never stalled (a stalled camera or
    RTSP client buffers on its own, and latency then grows without bound).

    Iterate it for the source's ``(frame_index, time, frame)``; ``dropped`` counts frames
    lost; ``read`` counts frames captured; an error of the source is re-raised at the end;
    :meth:`close` stops the reader.
    """

    def __init__(self, source, maxsize: int = 4):
        if maxsize < 1:
            raise ValueError(f'maxsize must be >= 1; got {maxsize}')
        self.source, self.maxsize = source, maxsize
        self.dropped = self.read = 0
        self._buffer: Deque[TimedFrame] = deque()
        self._cond = threading.Condition()
        self._done = False
        self._error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='videomae-det-reader',
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self.source.timed_frames():
                if self._stop.is_set():
                    break
                with self._cond:
                    self.read += 1
                    if len(self._buffer) >= self.maxsize:
                        self._buffer.popleft()
                        self.dropped += 1
                    self._buffer.append(item)
                    self._cond.notify()
        except BaseException as e:  # noqa: BLE001 - re-raised on the consumer's thread
            self._error = e
        finally:
            with self._cond:
                self._done = True
                self._cond.notify()

    def __iter__(self) -> Iterator[TimedFrame]:
        while True:
            with self._cond:
                while not self._buffer and not self._done and not self._stop.is_set():
                    self._cond.wait(0.1)
                if self._stop.is_set():
                    return
                if self._buffer:
                    item = self._buffer.popleft()
                elif self._error is not None:
                    raise self._error
                else:
                    return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        close = getattr(self.source, 'close', None)
        if close is not None and not self._thread.is_alive():
            close()
