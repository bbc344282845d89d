"""Video I/O: decoding with decord (metadata, random access to chosen frames) and
H.264 encoding with the ffmpeg binary shipped by ``imageio-ffmpeg``.

Every video read or written in the project goes through here, so one place decides how
frames are decoded and encoded and how a missing or broken file is reported.

Frames come back as uint8 RGB arrays ``(N, H, W, 3)`` at the stored resolution. Frame
indices are 0-based positions in decode order (presentation order for the constant-frame-
rate H.264 files our tools write; ``get_batch`` seeks to the nearest key frame and decodes
forward, and was checked frame-exact on those files, see ``tests/datasets/test_video_io.py``).
"""
import os
import re
import subprocess
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence, Union

import decord
import numpy as np

from videomae_det.utils.atomic import remove_stale_temporaries, temporary_prefix

PathLike = Union[str, os.PathLike]

# decord prints its own "ERROR opening ..." lines to stderr before raising; our exception
# already names the file, so keep the log readable.
decord.logging.set_level(decord.logging.QUIET)


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


def _open(path: PathLike, num_threads: int) -> decord.VideoReader:
    if not os.path.isfile(path):
        raise VideoNotFoundError(path)
    try:
        return decord.VideoReader(os.fspath(path), num_threads=num_threads)
    except Exception as e:  # decord raises RuntimeError or its own DECORDError
        raise VideoDecodeError(path, f'not a readable video ({_short(e)})') from e


def _short(e: Exception) -> str:
    """decord messages carry a time, a C++ source location and sometimes a stack; keep the
    gist of line one."""
    text = str(e).strip().splitlines()
    if not text:
        return type(e).__name__
    return re.sub(r'^\[[\d:]+\]\s+\S+:\d+:\s*', '', text[0])[:200]


def video_info(path: PathLike) -> VideoInfo:
    """Metadata of the video at ``path`` (opens the container, decodes the first frame).

    Raises:
        VideoNotFoundError: no file at ``path``.
        VideoDecodeError: the file is not a readable video or has no frames.
    """
    vr = _open(path, num_threads=1)
    num_frames = len(vr)
    if num_frames == 0:
        raise VideoDecodeError(path, 'video has no frames')
    height, width = _frame_shape(vr, path)
    return VideoInfo(num_frames=num_frames, fps=float(vr.get_avg_fps()), height=height,
                     width=width)


def _frame_shape(vr: decord.VideoReader, path: PathLike):
    """(height, width) of the stream. decord exposes no frame size without decoding, so
    decode frame 0 (one key frame: cheap)."""
    try:
        return tuple(int(s) for s in vr.get_batch([0]).shape[1:3])
    except Exception as e:
        raise VideoDecodeError(path, f'decoding failed ({_short(e)})') from e


class VideoReader:
    """An open video for several reads (e.g. to learn its length, then decode frames).

    ``num_frames``, ``fps``: stream metadata. ``read(indices)``: as :func:`read_frames`.
    Raises like :func:`read_frames` when opening.
    """

    def __init__(self, path: PathLike, num_threads: int = 1):
        self.path = os.fspath(path)
        self._vr = _open(path, num_threads=num_threads)
        self.num_frames = len(self._vr)

    @property
    def fps(self) -> float:
        # asked only when needed: decord's average-fps query costs milliseconds per file
        return float(self._vr.get_avg_fps())

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
            frames = self._vr.get_batch(unique.tolist()).asnumpy()
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


def read_frames(path: PathLike, indices: Sequence[int], num_threads: int = 1) -> np.ndarray:
    """Decode the frames at ``indices`` (0-based; any order, repeats allowed).

    Only the requested frames (and what the codec needs to reach them) are decoded; each
    distinct index is decoded once.

    Args:
        path: video file.
        indices: frame indices, each in ``[0, num_frames)``.
        num_threads: decoder threads; 1 suits DataLoader workers, which already run in
            parallel.

    Returns:
        uint8 ndarray ``(len(indices), H, W, 3)``, RGB, in the order of ``indices``.

    Raises:
        VideoNotFoundError: no file at ``path``.
        VideoDecodeError: unreadable file, an index outside the video, or a decode failure
            (e.g. a truncated file), naming ``path``.
    """
    return VideoReader(path, num_threads=num_threads).read(indices)


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
