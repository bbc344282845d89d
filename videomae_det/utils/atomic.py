"""Atomic file writes: a reader sees either the old file or the complete new one.

Results files and checkpoints go through here so that a crash or a full disk never leaves
a half-written file in place of a good one.

The new file gets the permissions a plain ``open(path, 'w')`` would give it: those of the
file it replaces, else ``0o666`` minus the umask (``tempfile.mkstemp`` alone makes every
file 0600, unreadable by the rest of a team).

Temporary files are named ``.<name>.<host>.<pid>.<random>.tmp`` beside the target. A
process killed mid-write (``kill -9``, power loss) cannot remove its own; the next write
of the same target removes those left by processes of this host that no longer run
(:func:`remove_stale_temporaries`).
"""
import contextlib
import os
import re
import socket
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator, List, Union

PathLike = Union[str, os.PathLike]


def current_umask() -> int:
    """The process umask, read without changing it where the kernel says it
    (``/proc/self/status``, Linux >= 4.7); else by setting and restoring it."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode(path: PathLike) -> int:
    """Permission bits ``open(path, 'w')`` would leave ``path`` with: the existing file's
    (replacing keeps them), else ``0o666 & ~umask``."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def _host() -> str:
    # a name that cannot contain our separators
    return re.sub(r'[^A-Za-z0-9_-]', '_', socket.gethostname()) or 'host'


def temporary_prefix(path: Path) -> str:
    """``.<name>.<host>.<pid>.``: the start of this process's temporary files for ``path``."""
    return f'.{path.name}.{_host()}.{os.getpid()}.'


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(path: PathLike, suffix: str = '.tmp') -> List[Path]:
    """Remove the temporary files of ``path`` (``.<name>.<host>.<pid>.<x><suffix>``) that
    processes of this host left behind when they died; returns the removed paths. Files of
    live processes and of other hosts (a shared file system) are left alone."""
    path = Path(path)
    pattern = re.compile(re.escape(f'.{path.name}.') + r'(?P<host>[A-Za-z0-9_-]+)\.'
                         r'(?P<pid>\d+)\.[^/]*' + re.escape(suffix) + '$')
    return _remove_dead_temporaries(path.parent, pattern)


# .<name>.<host>.<pid>.<random>.tmp (atomic_open), .<name>.<host>.<pid>.partial.<ext>
# (StreamingVideoWriter), .<name>.<host>.<pid>.tmp.<ext> (write_video)
_ANY_TEMPORARY = re.compile(r'^\..+\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.'
                            r'(?:[^/]*\.)?(?:tmp|partial\.[A-Za-z0-9]+|tmp\.[A-Za-z0-9]+)$')


def remove_stale_temporaries_in(folder: PathLike) -> List[Path]:
    """:func:`remove_stale_temporaries` for every target in ``folder`` (temporary files of
    atomic writes and videos being encoded whose process of this host is gone)."""
    return _remove_dead_temporaries(Path(folder), _ANY_TEMPORARY)



def _remove_dead_temporaries(folder: Path, pattern: re.Pattern) -> List[Path]:
    """Remove the files of ``folder`` whose name ``pattern`` matches (groups ``host`` and
    ``pid``) and whose writing process, on this host, is gone; the removed paths."""
    removed = []
    try:
        siblings = list(folder.iterdir())
    except OSError:
        return removed
    host = _host()
    for sibling in siblings:
        match = pattern.match(sibling.name)
        if match is None or match['host'] != host or _pid_alive(int(match['pid'])):
            continue
        with contextlib.suppress(FileNotFoundError):
            sibling.unlink()
            removed.append(sibling)
    return removed

@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = 'w', **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    if 'r' in mode or 'a' in mode or '+' in mode:
        raise ValueError(f'atomic_open writes whole files only; got mode {mode!r}')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    file_mode = new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix='.tmp', dir=path.parent)
    try:
        os.fchmod(fd, file_mode)
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
