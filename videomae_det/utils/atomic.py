"""Atomic file writes: a reader sees either the old file or the complete new one.

Results files and checkpoints go through here so that a crash or a full disk never leaves
a half-written file in place of a good one.
"""
import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Union

PathLike = Union[str, os.PathLike]


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = 'w', **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    if 'r' in mode or 'a' in mode or '+' in mode:
        raise ValueError(f'atomic_open writes whole files only; got mode {mode!r}')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def atomic_torch_save(obj, path: PathLike) -> None:
    """``torch.save`` to ``path`` atomically."""
    import torch
    with atomic_open(path, 'wb') as f:
        torch.save(obj, f)
