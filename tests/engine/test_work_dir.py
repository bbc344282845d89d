"""engine/work_dir.py: one training run per work dir; last_checkpoint read in the work dir."""
import os
import signal
import subprocess
import sys
import time

import pytest

from videomae_det.engine.work_dir import (LAST_CHECKPOINT, WorkDirBusyError, WorkDirLock,
                                          find_latest_checkpoint)
from videomae_det.utils.cli import UsageError

HOLD = ('import sys, time\n'
        'from videomae_det.engine.work_dir import WorkDirLock\n'
        'with WorkDirLock(sys.argv[1]):\n'
        '    print("locked", flush=True)\n'
        '    time.sleep(120)\n')


def _holder(work_dir):
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(work_dir)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, 'PYTHONPATH': os.getcwd()})
    assert proc.stdout.readline().strip() == 'locked'
    return proc


def test_second_run_refuses_and_a_killed_run_leaves_no_lock(tmp_path):
    work_dir = tmp_path / 'work'
    proc = _holder(work_dir)
    try:
        with pytest.raises(WorkDirBusyError, match=rf'in use by another training run \(pid '
                                                    rf'{proc.pid} on .*--work-dir'):
            with WorkDirLock(work_dir):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)  # a crash: nothing of ours runs on the way out
        proc.wait()
    with WorkDirLock(work_dir) as lock:  # not stuck
        assert lock.path.is_file()


def test_lock_is_released_for_the_next_run_of_the_same_process(tmp_path):
    with WorkDirLock(tmp_path):
        pass
    with WorkDirLock(tmp_path):
        pass


def test_unusable_work_dir_is_a_usage_error(tmp_path):
    (tmp_path / 'file').write_text('x')
    with pytest.raises(UsageError, match='work dir .*file.* not a folder|cannot be created'):
        with WorkDirLock(tmp_path / 'file' / 'work'):
            pass


def test_lock_removes_temporaries_of_killed_runs(tmp_path):
    from videomae_det.utils.atomic import temporary_prefix
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True, check=True)
    host = temporary_prefix(tmp_path / 'x').split('.')[2]
    orphan = tmp_path / f'.epoch_3.pth.{host}.{int(dead.stdout)}.k2j3h4.tmp'
    orphan.write_bytes(b'half a checkpoint')
    video = tmp_path / f'.out.mp4.{host}.{int(dead.stdout)}.partial.mp4'
    video.write_bytes(b'half a video')
    keep = tmp_path / 'epoch_2.pth'
    keep.write_bytes(b'complete')
    with WorkDirLock(tmp_path) as lock:
        assert sorted(lock.removed) == sorted([orphan, video])
    assert keep.exists() and not orphan.exists() and not video.exists()


def test_latest_checkpoint_is_found_in_the_work_dir_itself(tmp_path):
    assert find_latest_checkpoint(tmp_path) is None
    (tmp_path / LAST_CHECKPOINT).write_text('epoch_3.pth')
    assert find_latest_checkpoint(tmp_path) == str(tmp_path / 'epoch_3.pth')
    # an absolute path of the folder this one was copied from: our own file of that name
    (tmp_path / LAST_CHECKPOINT).write_text('/elsewhere/original/epoch_3.pth')
    (tmp_path / 'epoch_3.pth').write_bytes(b'ckpt')
    assert find_latest_checkpoint(tmp_path) == str(tmp_path / 'epoch_3.pth')
