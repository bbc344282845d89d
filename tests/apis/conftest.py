"""Fixtures for the inference API tests: a tiny detector config + a checkpoint in the
training format, and a mini-AVA movie stitched from its 1-second clips."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

# A pure-Python config of a tiny detector (a 2-block ViT at 64 px, 8-frame clips) with the
# real classes, test pipeline and data preprocessor; the label map is mini-AVA's (12
# classes), written into the config by the fixture.
TINY_CONFIG = '''
from videomae_det.datasets import AVAVideoDataset
from videomae_det.datasets.transforms import PackActionInputs, Resize, WidenBoxes
from videomae_det.models import VisionTransformer
from videomae_det.models.data_preprocessor import ActionDataPreprocessor
from videomae_det.models.detectors import AVADetector
from videomae_det.models.heads import AVARoIHead

clip_len, frame_interval = 8, 4
test_pipeline = [dict(type=Resize, scale=64), dict(type=WidenBoxes), dict(type=PackActionInputs)]
model = dict(
    type=AVADetector,
    backbone=dict(type=VisionTransformer, num_frames=clip_len, img_size=64, embed_dim=32,
                  depth=2, num_heads=2),
    roi_head=dict(type=AVARoIHead, num_classes=80, dropout=0.5),
    data_preprocessor=dict(type=ActionDataPreprocessor))
test_dataloader = dict(
    batch_size=1,
    dataset=dict(type=AVAVideoDataset, ann_file='unused.json', clip_len=clip_len,
                 frame_interval=frame_interval, pipeline=test_pipeline, test_mode=True))
test_evaluator = dict(type='AVAMetric', label_map_file=LABEL_MAP)
'''


@pytest.fixture(scope='session')
def mini_ava(tmp_path_factory) -> Path:
    """The ``tiny`` mini-AVA preset (3 movies of 8 s, 160x120 at 25 fps)."""
    from videomae_det.datasets.mini_ava import generate_mini_ava
    root = tmp_path_factory.mktemp('mini_ava')
    generate_mini_ava(root, seed=0, size='tiny', workers=1)
    return root


@pytest.fixture(scope='session')
def tiny_config(tmp_path_factory, mini_ava) -> Path:
    path = tmp_path_factory.mktemp('cfg') / 'tiny_det.py'
    label_map = mini_ava / 'annotations' / 'mini_ava_action_list.pbtxt'
    path.write_text(TINY_CONFIG.replace('LABEL_MAP', repr(str(label_map))))
    return path


@pytest.fixture(scope='session')
def tiny_checkpoint(tiny_config, tmp_path_factory) -> Path:
    """The tiny model, randomly initialised, saved as training saves it."""
    from mmengine.config import Config

    from videomae_det.registry import MODELS
    from videomae_det.utils.atomic import atomic_torch_save
    torch.manual_seed(0)
    cfg = Config.fromfile(str(tiny_config))
    model = MODELS.build(cfg.model)
    # a non-zero head so that scores differ between boxes and classes
    torch.nn.init.normal_(model.roi_head.fc_cls.weight, std=0.5)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_det.pth'
    atomic_torch_save(dict(state_dict=model.state_dict(),
                           meta=dict(cfg=Path(tiny_config).read_text(), epoch=1, iter=2,
                                     seed=0)), path)
    return path


@pytest.fixture(scope='session')
def mini_ava_movie(mini_ava, tmp_path_factory):
    """The val movie of mini-AVA as one mp4 (its clips 900..907 s joined) and its facts.

    Returns ``dict(path, movie, first_sec, val_min_json)``; video time 0 is movie second
    ``first_sec``.
    """
    from videomae_det.datasets.video_io import read_frames, write_video
    info = json.loads((mini_ava / 'mini_ava_info.json').read_text())
    movie = info['movies']['val'][0]
    clip_dir = mini_ava / 'clips' / 'trainval' / movie
    secs = sorted(int(p.stem) for p in clip_dir.glob('*.mp4'))
    frames = np.concatenate([read_frames(clip_dir / f'{s}.mp4', range(25)) for s in secs])
    path = tmp_path_factory.mktemp('movie') / f'{movie}.mp4'
    write_video(path, frames, fps=25)
    return dict(path=path, movie=movie, first_sec=secs[0], num_frames=len(frames),
                val_min_json=mini_ava / 'annotations' / 'ava_val_v2.2_min.json',
                val_csv=mini_ava / 'annotations' / 'ava_val_v2.2.csv')
