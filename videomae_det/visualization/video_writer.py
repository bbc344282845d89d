"""Writing a video frame by frame (H.264 through the ffmpeg binary of ``imageio-ffmpeg``).

The video is written under a temporary name beside the target and renamed on
:meth:`StreamingVideoWriter.close`, so the target path holds either nothing (or its old
content) or a complete file, even for outputs written over minutes.
"""
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Optional, Union

import numpy as np

from videomae_det.datasets.video_io import ffmpeg_exe
from videomae_det.utils.atomic import remove_stale_temporaries, temporary_prefix

PathLike = Union[str, os.PathLike]


class StreamingVideoWriter:
    """Encode RGB frames to ``path`` as they come, at a constant ``fps``.

    One frame in, one frame out: the output has exactly as many frames as were written,
    at the given size. H.264 (libx264) in yuv420p for even sizes; odd sizes, which
    yuv420p cannot hold, use yuv444p (fewer players handle it).

    Args:
        path: the output file; its extension picks the container (.mp4, .mkv, .avi, ...).
        fps: frames per second (may be fractional, e.g. 29.97).
        size: ``(width, height)`` in pixels.
        crf: x264 quality (lower is better, 18-23 is visually good).
    """

    def __init__(self, path: PathLike, fps: float, size, crf: int = 20):
        self.path = Path(path)
        self.width, self.height = (int(v) for v in size)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # ``.<name>.<host>.<pid>.partial<ext>``: the run that dies under kill -9 leaves it;
        # the next writer of the same path removes it
        remove_stale_temporaries(self.path, suffix=f'.partial{self.path.suffix}')
        self.tmp = self.path.with_name(
            f'{temporary_prefix(self.path)}partial{self.path.suffix}')
        self.num_frames = 0
        pix_fmt = 'yuv420p' if self.width % 2 == 0 and self.height % 2 == 0 else 'yuv444p'
        extra = ['-movflags', '+faststart'] if self.path.suffix.lower() in ('.mp4', '.mov') else []
        self._log = tempfile.TemporaryFile()
        cmd = [ffmpeg_exe(), '-y', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24',
               '-s', f'{self.width}x{self.height}', '-r', f'{fps:.6g}', '-i', '-',
               '-c:v', 'libx264', '-preset', 'veryfast', '-crf', str(crf), '-pix_fmt', pix_fmt,
               '-fps_mode', 'passthrough', *extra, str(self.tmp)]
        self._proc: Optional[subprocess.Popen] = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)

    def _ffmpeg_error(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors='replace').strip()[-2000:]

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 ``(height, width, 3)`` RGB frame."""
        if self._proc is None:
            raise RuntimeError(f'{self.path}: writer already closed')
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f'{self.path}: expected a uint8 ({self.height}, {self.width}, 3) '
                             f'frame, got {frame.dtype} {frame.shape}')
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            self._proc.wait()
            err = self._ffmpeg_error()
            self.abort()
            raise RuntimeError(f'ffmpeg stopped while writing {self.path}: {err}') from None
        self.num_frames += 1

    def close(self) -> None:
        """Finish the file and move it to ``path``."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        proc.stdin.close()
        code = proc.wait()
        if code != 0 or self.num_frames == 0:
            err = self._ffmpeg_error() if code else 'no frames were written'
            self._log.close()
            self.tmp.unlink(missing_ok=True)
            raise RuntimeError(f'ffmpeg failed writing {self.path}: {err}')
        self._log.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Stop without producing ``path`` (the temporary file is removed)."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.kill()
            proc.wait()
        if not self._log.closed:
            self._log.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
