import pytest
import torch

from videomae_det.utils import atomic_open, atomic_torch_save, atomic_write_text


def test_failed_write_keeps_old_file(tmp_path):
    path = tmp_path / 'results.csv'
    atomic_write_text(path, 'old\n')
    with pytest.raises(RuntimeError):
        with atomic_open(path) as f:
            f.write('half a ')
            raise RuntimeError('disk full')
    assert path.read_text() == 'old\n'
    assert [p.name for p in tmp_path.iterdir()] == ['results.csv']  # no temp left behind


def test_torch_save_round_trip(tmp_path):
    path = tmp_path / 'sub' / 'ckpt.pth'
    atomic_torch_save({'w': torch.arange(3)}, path)
    assert torch.load(path)['w'].tolist() == [0, 1, 2]


def test_refuses_append_mode(tmp_path):
    with pytest.raises(ValueError, match='whole files'):
        with atomic_open(tmp_path / 'x', 'a'):
            pass


@pytest.mark.parametrize('umask', [0o022, 0o077, 0o002])
def test_new_file_honours_the_umask_like_open(tmp_path, umask):
    import os
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / 'atomic.json', '{}')
        atomic_torch_save({'w': torch.zeros(1)}, tmp_path / 'atomic.pth')
        with open(tmp_path / 'plain.json', 'w') as f:
            f.write('{}')
    finally:
        os.umask(old)
    plain = (tmp_path / 'plain.json').stat().st_mode & 0o777
    assert plain == 0o666 & ~umask
    assert (tmp_path / 'atomic.json').stat().st_mode & 0o777 == plain
    assert (tmp_path / 'atomic.pth').stat().st_mode & 0o777 == plain


def test_replacing_keeps_the_mode_of_the_file_replaced(tmp_path):
    path = tmp_path / 'report.json'
    atomic_write_text(path, 'old')
    path.chmod(0o640)
    atomic_write_text(path, 'new')
    assert path.stat().st_mode & 0o777 == 0o640 and path.read_text() == 'new'


def test_temporaries_of_dead_processes_are_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys
    from videomae_det.utils.atomic import temporary_prefix
    path = tmp_path / 'epoch_1.pth'
    # a process that died mid-write (kill -9) left its temporary file behind
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    mine = temporary_prefix(path)  # .epoch_1.pth.<host>.<pid>.
    host = mine.split('.')[3]
    orphan = tmp_path / f'.epoch_1.pth.{host}.{dead_pid}.abc123.tmp'
    orphan.write_bytes(b'half')
    live = tmp_path / f'{mine}live99.tmp'  # this process's own: may be in use
    live.write_bytes(b'in use')
    other_host = tmp_path / f'.epoch_1.pth.otherhost.{dead_pid}.x.tmp'
    other_host.write_bytes(b'other machine')
    atomic_write_text(path, 'complete')
    assert not orphan.exists()
    assert live.exists() and other_host.exists()
    assert path.read_text() == 'complete'
