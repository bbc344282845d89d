"""tools/visualize_mae.py: original / masked / reconstructed grid from a checkpoint."""
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from videomae_det.datasets.video_io import write_video
from videomae_det.engine.config_checks import load_config
from videomae_det.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / 'configs' / 'pretrain' / 'mini_ava.py')
TINY = ['model.encoder.embed_dim=48', 'model.encoder.depth=1', 'model.encoder.num_heads=3',
        'model.decoder_embed_dim=24', 'model.decoder_depth=1']


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('visualize_mae',
                                                  ROOT / 'tools' / 'visualize_mae.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    cfg = load_config(CONFIG, {k: int(v) for k, v in (s.split('=') for s in TINY)})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, path)
    return path


def test_grid_has_three_rows_and_one_column_per_temporal_slice(tool, checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    video = tmp_path / 'clip.mp4'
    write_video(video, rng.integers(0, 255, (40, 120, 160, 3), dtype=np.uint8))
    out = tmp_path / 'grid.png'
    tool.main([CONFIG, str(checkpoint), str(video), '--out', str(out), '--cfg-options', *TINY])
    grid = cv2.imread(str(out))
    # mini config: 8 frames, tubelet 2 -> 4 columns; crop 112 -> 3 x 112 by 4 x 112
    assert grid.shape == (3 * 112, 4 * 112, 3)
    masked_row = grid[112:224]
    # 90% of the cubes are hidden and painted grey in the masked row
    grey = np.all(np.abs(masked_row.astype(int) - 128) <= 1, axis=-1).mean()
    assert 0.8 < grey < 0.95


def test_a_missing_video_is_named(tool, checkpoint, tmp_path, capsys):
    assert tool.main([CONFIG, str(checkpoint), str(tmp_path / 'nowhere.mp4'), '--out',
                      str(tmp_path / 'g.png'), '--cfg-options', *TINY]) == 2
    assert 'nowhere.mp4' in capsys.readouterr().err.splitlines()[0]
