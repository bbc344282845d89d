"""Video I/O: decoding (metadata, random access to chosen frames) and H.264 encoding with
the ffmpeg binary shipped by ``imageio-ffmpeg``.

Every video read or written in the project goes through here, so one place decides how
frames are decoded and encoded and how a missing or broken file is reported.

Frames come back as uint8 RGB arrays ``(N, H, W, 3)`` at the stored resolution. Frame
indices are 0-based positions in presentation order (the constant-frame-rate H.264 files
our tools write were checked frame-exact, see ``tests/datasets/test_video_io.py``).

Decoders (``backend``): ``decord`` (the default where it is installed: fastest random
access), ``pyav`` (PyAV, wheels with FFmpeg inside for Linux x86/ARM, macOS and Windows;
chosen automatically when decord is missing) and ``torchcodec`` (needs the system's FFmpeg
libraries). ``VIDEOMAE_DET_VIDEO_BACKEND`` picks one for a whole run (DataLoader workers
inherit it). The backends convert YUV to RGB with different chroma filters, so pixels may
differ by a few levels between them (measured in the tests); frame choice does not.
"""
import os
import re
import subprocess
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from videomae_det.utils.atomic import remove_stale_temporaries, temporary_prefix

PathLike = Union[str, os.PathLike]

BACKENDS = ('decord', 'pyav', 'torchcodec')
BACKEND_ENV = 'VIDEOMAE_DET_VIDEO_BACKEND'
# PyAV decodes from the start of the file up to this frame rather than seeking: exact on any
# file, and as cheap as a seek for 1-second clips
_PYAV_SEEK_FROM = 250


class VideoDecodeError(RuntimeError):
    """A video could not be opened or decoded. ``path`` is the offending file."""

    def __init__(self, path: PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f'cannot decode video {self.path}: {reason}')

    def __reduce__(self):  # picklable across DataLoader worker processes
        return type(self), (self.path, self.reason)


class VideoNotFoundError(VideoDecodeError, FileNotFoundError):
    """The video file does not exist (a ``VideoDecodeError`` and a ``FileNotFoundError``)."""

    def __init__(self, path: PathLike):
        super().__init__(path, 'file does not exist')

    def __reduce__(self):
        return type(self), (self.path,)


class VideoInfo(NamedTuple):
    """Stream metadata: frame count, frames per second, frame height and width (pixels)."""
    num_frames: int
    fps: float
    height: int
    width: int


# ---------------------------------------------------------------------------------------
# Decoder backends: each opens a file and answers num_frames, fps() and
# get_batch(sorted distinct indices) -> uint8 (N, H, W, 3) RGB; errors propagate raw and
# are worded by VideoReader.
# ---------------------------------------------------------------------------------------


class _Decord:
    def __init__(self, path: str, num_threads: int):
        import decord
        # decord prints its own "ERROR opening ..." lines to stderr before raising; our
        # exception already names the file, so keep the log readable
        decord.logging.set_level(decord.logging.QUIET)
        self._vr = decord.VideoReader(path, num_threads=num_threads)
        self.num_frames = len(self._vr)

    def fps(self) -> float:
        return float(self._vr.get_avg_fps())

    def get_batch(self, indices: List[int]) -> np.ndarray:
        return self._vr.get_batch(indices).asnumpy()


class _PyAV:
    def __init__(self, path: str, num_threads: int):
        import av
        self._av = av
        self._container = av.open(path)
        if not self._container.streams.video:
            self._container.close()
            raise ValueError('no video stream')
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = 'AUTO'
        self._stream.thread_count = num_threads
        self.num_frames = self._stream.frames or self._count_frames()

    def _count_frames(self) -> int:
        """Containers without a frame count in the header: count the packets."""
        n = sum(1 for packet in self._container.demux(self._stream) if packet.size)
        self._container.seek(0)
        return n

    def fps(self) -> float:
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else 0.0

    def get_batch(self, indices: List[int]) -> np.ndarray:
        wanted, out = iter(indices), []
        target = next(wanted)
        stream, index = self._stream, 0
        start = stream.start_time or 0
        if target >= _PYAV_SEEK_FROM:  # long video: seek to the key frame before the target
            fps = self.fps()
            self._container.seek(start + int(target / fps / stream.time_base), stream=stream,
                                 backward=True)
            index = None
        else:
            self._container.seek(start, stream=stream, backward=True)
        for frame in self._container.decode(stream):
            if index is None:  # after a seek: the position follows from the timestamp
                index = int(round(float((frame.pts - start) * stream.time_base) * fps))
            if index == target:
                out.append(frame.to_ndarray(format='rgb24'))
                target = next(wanted, None)
                if target is None:
                    return np.stack(out)
            index += 1
        raise ValueError(f'the stream ends before frame {target}')


class _TorchCodec:
    def __init__(self, path: str, num_threads: int):
        from torchcodec.decoders import VideoDecoder
        self._decoder = VideoDecoder(path, dimension_order='NHWC', seek_mode='exact',
                                     num_ffmpeg_threads=num_threads)
        self.num_frames = len(self._decoder)

    def fps(self) -> float:
        return float(self._decoder.metadata.average_fps or 0.0)

    def get_batch(self, indices: List[int]) -> np.ndarray:
        return self._decoder.get_frames_at(indices).data.numpy()


_CLASSES = dict(decord=_Decord, pyav=_PyAV, torchcodec=_TorchCodec)


def backend_available(name: str) -> bool:
    """Whether decoder ``name`` (one of ``BACKENDS``) imports here."""
    try:
        if name == 'decord':
            import decord  # noqa: F401
        elif name == 'pyav':
            import av  # noqa: F401
        elif name == 'torchcodec':
            import torchcodec
            # the wheel imports without FFmpeg; it needs the system's FFmpeg libraries
            return torchcodec.ffmpeg_major_version is not None
        else:
            raise ValueError(f'unknown video backend {name!r}; choose from {", ".join(BACKENDS)}')
    except (ImportError, OSError, RuntimeError):
        return False
    return True


def available_backends() -> Tuple[str, ...]:
    """The installed decoders, in order of preference."""
    return tuple(name for name in BACKENDS if backend_available(name))


def default_backend() -> str:
    """``$VIDEOMAE_DET_VIDEO_BACKEND`` if set, else the first installed of ``BACKENDS``."""
    chosen = os.environ.get(BACKEND_ENV)
    if chosen:
        if chosen not in BACKENDS:
            raise ValueError(f'{BACKEND_ENV}={chosen!r} is not a video backend; choose from '
                             f'{", ".join(BACKENDS)}')
        if not backend_available(chosen):
            raise ValueError(f'{BACKEND_ENV}={chosen}: that decoder is not installed')
        return chosen
    for name in BACKENDS:
        if backend_available(name):
            return name
    raise ValueError('no video decoder installed: pip install av (or decord)')


def _open(path: PathLike, num_threads: int, backend: Optional[str] = None):
    if not os.path.isfile(path):
        raise VideoNotFoundError(path)
    backend = backend or default_backend()
    if backend not in _CLASSES:
        raise ValueError(f'unknown video backend {backend!r}; choose from {", ".join(BACKENDS)}')
    try:
        return _CLASSES[backend](os.fspath(path), num_threads)
    except Exception as e:  # each library raises its own types
        raise VideoDecodeError(path, f'not a readable video ({_short(e)})') from e


def _short(e: Exception) -> str:
    """Decoder messages (decord's) carry a time, a C++ source location and sometimes a stack; keep the
    gist of line one."""
    text = str(e).strip().splitlines()
    if not text:
        return type(e).__name__
    return re.sub(r'^\[[\d:]+\]\s+\S+:\d+:\s*', '', text[0])[:200]


def video_info(path: PathLike, backend: Optional[str] = None) -> VideoInfo:
    """Metadata of the video at ``path`` (opens the container, decodes the first frame).

    Raises:
        VideoNotFoundError: no file at ``path``.
        VideoDecodeError: the file is not a readable video or has no frames.
    """
    vr = _open(path, num_threads=1, backend=backend)
    if vr.num_frames == 0:
        raise VideoDecodeError(path, 'video has no frames')
    height, width = _frame_shape(vr, path)
    return VideoInfo(num_frames=vr.num_frames, fps=vr.fps(), height=height, width=width)


def _frame_shape(vr, path: PathLike):
    """(height, width) of the stream. Not every decoder exposes the frame size without
    decoding, so decode frame 0 (one key frame: cheap)."""
    try:
        return tuple(int(s) for s in vr.get_batch([0]).shape[1:3])
    except Exception as e:
        raise VideoDecodeError(path, f'decoding failed ({_short(e)})') from e


class VideoReader:
    """An open video for several reads (e.g. to learn its length, then decode frames).

    ``num_frames``, ``fps``: stream metadata. ``read(indices)``: as :func:`read_frames`.
    ``backend``: the decoder (default: :func:`default_backend`). Raises like
    :func:`read_frames` when opening.
    """

    def __init__(self, path: PathLike, num_threads: int = 1, backend: Optional[str] = None):
        self.path = os.fspath(path)
        self._vr = _open(path, num_threads=num_threads, backend=backend)
        self.num_frames = self._vr.num_frames

    @property
    def fps(self) -> float:
        # asked only when needed: decord's average-fps query costs milliseconds per file
        return self._vr.fps()

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Decode frames ``indices`` -> uint8 ``(len(indices), H, W, 3)`` RGB (see read_frames)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size == 0:
            h, w = _frame_shape(self._vr, self.path)
            return np.zeros((0, h, w, 3), dtype=np.uint8)
        bad = indices[(indices < 0) | (indices >= self.num_frames)]
        if bad.size:
            raise VideoDecodeError(
                self.path,
                f'frame index {int(bad[0])} outside the video ({self.num_frames} frames)')
        in_order = bool(np.all(np.diff(indices) > 0))  # the usual case: no re-indexing copy
        unique, inverse = (indices, None) if in_order else np.unique(indices, return_inverse=True)
        try:
            frames = self._vr.get_batch(unique.tolist())
        except Exception as e:  # truncated/corrupt streams fail here, after a good open
            raise VideoDecodeError(self.path, f'decoding failed ({_short(e)})') from e
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[0] != unique.size:
            raise VideoDecodeError(self.path,
                                   f'decoder returned an unexpected array {frames.shape}')
        return frames if inverse is None else frames[inverse]


def verify_video(path: PathLike, expected_frames: Optional[int] = None) -> Optional[str]:
    """None if ``path`` opens, has ``expected_frames`` frames (when given) and its last frame
    decodes (a truncated file fails there); otherwise the reason, for reports."""
    try:
        reader = VideoReader(path)
        if expected_frames is not None and reader.num_frames != expected_frames:
            return f'{reader.num_frames} frames, expected {expected_frames}'
        if reader.num_frames == 0:
            return 'video has no frames'
        reader.read([reader.num_frames - 1])
    except VideoDecodeError as e:
        return e.reason
    return None


def read_frames(path: PathLike, indices: Sequence[int], num_threads: int = 1,
                backend: Optional[str] = None) -> np.ndarray:
    """Decode the frames at ``indices`` (0-based; any order, repeats allowed).

    Only the requested frames (and what the codec needs to reach them) are decoded; each
    distinct index is decoded once.

    Args:
        path: video file.
        indices: frame indices, each in ``[0, num_frames)``.
        num_threads: decoder threads; 1 suits DataLoader workers, which already run in
            parallel.
        backend: the decoder (``BACKENDS``; default: :func:`default_backend`).

    Returns:
        uint8 ndarray ``(len(indices), H, W, 3)``, RGB, in the order of ``indices``.

    Raises:
        VideoNotFoundError: no file at ``path``.
        VideoDecodeError: unreadable file, an index outside the video, or a decode failure
            (e.g. a truncated file), naming ``path``.
    """
    return VideoReader(path, num_threads=num_threads, backend=backend).read(indices)


# Encoder settings shared by every clip we write (mini-AVA, cut_clips): H.264 yuv420p for
# any player; a short GOP bounds the frames decoded to reach a random frame (a 25-frame
# clip with -g 8 never decodes more than 7 extra frames); constant frame rate so frame
# index = time × fps.
H264_ARGS = ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-preset', 'veryfast', '-g', '8',
             '-bf', '0', '-fps_mode', 'cfr', '-movflags', '+faststart']


def one_second_segment_args(first_sec: int, fps: int = 25) -> List[str]:
    """ffmpeg output options that split the encoded stream into 1-second files named
    ``<sec>.mp4`` (``first_sec``, ``first_sec + 1``, ...), each starting with a key frame so
    frame ``k`` of ``<sec>.mp4`` is time ``sec + k / fps``. Follow with ``<dir>/%d.mp4``."""
    return ['-force_key_frames', f'expr:eq(mod(n,{fps}),0)', '-f', 'segment',
            '-segment_time', '1', '-segment_start_number', str(first_sec),
            '-reset_timestamps', '1', '-segment_format_options', 'movflags=+faststart']


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary that ships with ``imageio-ffmpeg`` (no system ffmpeg needed)."""
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def write_video(path: PathLike, frames: np.ndarray, fps: float = 25, crf: int = 20,
                extra_args: Sequence[str] = ()) -> None:
    """Encode ``frames`` (uint8 ``(N, H, W, 3)`` RGB, H and W even) to an H.264 mp4.

    The file is written under a temporary name and renamed, so ``path`` is either absent or
    complete. Raises ``RuntimeError`` with ffmpeg's message if encoding fails.
    """
    frames = np.ascontiguousarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f'frames must be uint8 (N, H, W, 3); got {frames.dtype} {frames.shape}')
    n, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f'yuv420p needs even frame sizes; got {w}x{h}')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path, suffix=f'.tmp{path.suffix}')
    tmp = path.with_name(f'{temporary_prefix(path)}tmp{path.suffix}')
    cmd: List[str] = [ffmpeg_exe(), '-y', '-loglevel', 'error', '-f', 'rawvideo',
                      '-pix_fmt', 'rgb24', '-s', f'{w}x{h}', '-r', str(fps), '-i', '-',
                      *H264_ARGS, '-crf', str(crf), '-threads', '1', *extra_args, str(tmp)]
    proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f'ffmpeg failed writing {path}: {proc.stderr.decode(errors="replace")}')
    os.replace(tmp, path)
