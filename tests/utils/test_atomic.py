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
