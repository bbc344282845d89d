"""One training run per work dir, and what a work dir says about the run that used it.

Two runs writing into one work dir overwrite each other's ``epoch_*``/``best_*`` files and
both exit 0. :class:`WorkDirLock` makes the second one refuse: it holds an exclusive
``flock`` on ``<work_dir>/.train.lock``. The kernel drops that lock when the process ends
in any way (``kill -9`` included), so a crashed run never leaves the work dir locked; the
file itself only says who holds the lock (pid, host, start time, command), for the message.

``last_checkpoint`` holds the latest checkpoint's path relative to the work dir (see
``SafeCheckpointHook``), so a work dir copied elsewhere resumes from its own files;
:func:`find_latest_checkpoint` also reads the absolute paths mmengine writes.
"""
import fcntl
import json
import os
import os.path as osp
import socket
import sys
import time
from pathlib import Path
from typing import IO, Optional, Union

from videomae_det.utils.atomic import remove_stale_temporaries_in
from videomae_det.utils.cli import UsageError, check_writable_dir

PathLike = Union[str, os.PathLike]
LOCK_NAME = '.train.lock'
LAST_CHECKPOINT = 'last_checkpoint'


class WorkDirBusyError(UsageError):
    """Another live process trains into this work dir."""


class WorkDirLock:
    """Exclusive use of a work dir by one training run (a context manager).

    Entering creates the work dir (a :class:`UsageError` if it cannot), takes the lock
    (:class:`WorkDirBusyError` naming the holder if another process has it) and removes
    the temporary files that killed runs left behind. The lock is released on exit, or by
    the kernel when the process dies.
    """

    def __init__(self, work_dir: PathLike):
        self.work_dir = Path(work_dir)
        self.path = self.work_dir / LOCK_NAME
        self._file: Optional[IO] = None
        self.removed = []

    def __enter__(self) -> 'WorkDirLock':
        check_writable_dir(self.work_dir, 'work dir')
        # 'a+' neither truncates the holder's description nor fails if it is there
        f = open(self.path, 'a+')
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip()
            f.close()
            raise WorkDirBusyError(
                f'work dir {self.work_dir} is in use by another training run '
                f'({_describe_holder(holder)}); wait for it to finish or give another '
                f'--work-dir') from None
        f.seek(0)
        f.truncate()
        json.dump(dict(pid=os.getpid(), host=socket.gethostname(),
                       started=time.strftime('%Y-%m-%d %H:%M:%S'),
                       command=' '.join(sys.argv)[:500]), f)
        f.flush()
        self._file = f
        self.removed = remove_stale_temporaries_in(self.work_dir)
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()  # closing the last descriptor releases the flock
            self._file = None


def _describe_holder(text: str) -> str:
    try:
        info = json.loads(text)
        return (f'pid {info["pid"]} on {info["host"]}, started {info["started"]}: '
                f'{info["command"][:200]}')
    except (ValueError, KeyError, TypeError):
        return 'a process that has not described itself yet'


def find_latest_checkpoint(work_dir: PathLike) -> Optional[str]:
    """The checkpoint ``<work_dir>/last_checkpoint`` names, or None.

    A relative path (what we write) is taken relative to the work dir; an absolute one
    (mmengine's, possibly of the work dir this one was copied from) is replaced by the
    file of the same name in this work dir when there is one: a copied work dir resumes
    from its own checkpoints, never from another folder's.
    """
    record = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(record):
        return None
    with open(record) as f:
        text = f.read().strip()
    if not text:
        return None
    if not osp.isabs(text):
        return osp.join(work_dir, text)
    own = osp.join(work_dir, osp.basename(text))
    return own if osp.isfile(own) else text
