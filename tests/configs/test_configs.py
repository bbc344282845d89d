"""The shipped configs: they load (every class resolves), hold the paper's recipe, and the
mini-AVA model runs."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from videomae_det.datasets import RepeatKeyframe
from videomae_det.engine.config_checks import load_config
from videomae_det.registry import MODELS
from videomae_det.structures import ActionDataSample

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
DETECTOR_CONFIGS = sorted(CONFIGS.glob('ava/*.py')) + sorted(CONFIGS.glob('mini_ava/*.py'))


@pytest.mark.parametrize('path', DETECTOR_CONFIGS, ids=lambda p: f'{p.parent.name}/{p.name}')
def test_config_loads_and_names_the_data(path):
    cfg = load_config(str(path))  # imports every class it names
    assert cfg.model.roi_head.num_classes == 80
    assert cfg.default_hooks.checkpoint.save_best == 'ava/mAP'
    assert cfg.default_hooks.checkpoint.rule == 'greater'
    root = 'data/mini_ava' if path.parent.name == 'mini_ava' else 'data/ava'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == root
    assert cfg.val_evaluator.ann_file.startswith(root)
    assert cfg.val_evaluator.label_map_file.startswith(root)


@pytest.mark.parametrize('path', DETECTOR_CONFIGS, ids=lambda p: f'{p.parent.name}/{p.name}')
def test_head_stride_matches_the_patch_size(path):
    # boxes are in input pixels: the RoI head must scale them by the backbone's stride, and
    # the padded input must tile into whole patches. The configs state neither: the
    # detector derives both from the backbone it builds.
    cfg = Config.fromfile(str(path)).model
    assert 'spatial_scale' not in cfg.roi_head
    assert 'pad_size_divisor' not in cfg.data_preprocessor
    cfg.backbone.update(embed_dim=24, depth=1, num_heads=2, pretrained=None)  # small to build
    model = MODELS.build(cfg)
    patch = model.backbone.patch_size
    assert patch == cfg.backbone.get('patch_size', 16)
    assert model.roi_head.spatial_scale == 1 / patch
    assert model.data_preprocessor.pad_size_divisor == patch


def test_mini_pretraining_encoder_is_the_mini_detector_backbone():
    # the quickstart loads the pretrained encoder into the detector: same shapes everywhere
    encoder = Config.fromfile(str(CONFIGS / 'pretrain' / 'mini_ava.py')).model.encoder
    backbone = Config.fromfile(str(CONFIGS / 'mini_ava' / 'vit_tiny.py')).model.backbone
    keys = ('num_frames', 'img_size', 'patch_size', 'embed_dim', 'depth', 'num_heads')
    assert {k: encoder.get(k) for k in keys} == {k: backbone.get(k) for k in keys}
    assert backbone.patch_size == 8


def test_vit_b_is_the_paper_recipe():
    cfg = Config.fromfile(str(CONFIGS / 'ava' / 'vit_b.py'))
    backbone = cfg.model.backbone
    assert (backbone.embed_dim, backbone.depth, backbone.num_heads) == (768, 12, 12)
    assert backbone.drop_path_rate == 0.2 and backbone.pretrained  # a VideoMAE checkpoint
    assert cfg.load_from is None  # load_from is for our own detector checkpoints
    dataset = cfg.train_dataloader.dataset
    assert (dataset.clip_len, dataset.frame_interval) == (16, 4)
    assert cfg.model.roi_head.roi_size == 7 and cfg.model.backbone.get('patch_size', 16) == 16
    optim = cfg.optim_wrapper
    assert optim.optimizer.lr == 2.5e-4 and optim.optimizer.betas == (0.9, 0.999)
    assert optim.optimizer.weight_decay == 0.05
    assert optim.paramwise_cfg.layer_decay_rate == 0.75
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=256)
    assert cfg.train_dataloader.batch_size == 4
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, 5)
    assert (cosine.begin, cosine.end, cosine.eta_min) == (5, 30, 1e-6)
    assert cfg.train_cfg.max_epochs == 30 and cfg.train_cfg.val_interval == 1
    assert cfg.val_dataloader.dataset.proposal_file and cfg.val_dataloader.dataset.test_mode


@pytest.mark.parametrize('name, sizes, checkpointing', [
    ('vit_s', (384, 12, 6), False), ('vit_l', (1024, 24, 16), True),
    ('vit_h', (1280, 32, 16), True)])
def test_other_sizes(name, sizes, checkpointing):
    backbone = Config.fromfile(str(CONFIGS / 'ava' / f'{name}.py')).model.backbone
    assert (backbone.embed_dim, backbone.depth, backbone.num_heads) == sizes
    assert backbone.use_checkpoint is checkpointing
    assert name in backbone.pretrained


def test_static_baseline_differs_only_by_repeated_keyframe():
    moving = Config.fromfile(str(CONFIGS / 'mini_ava' / 'vit_tiny.py'))
    static = Config.fromfile(str(CONFIGS / 'mini_ava' / 'vit_tiny_static.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = static[loader].dataset.pipeline
        assert pipeline[0].type is RepeatKeyframe
        assert pipeline[1:] == moving[loader].dataset.pipeline
    assert static.model == moving.model
    assert static.param_scheduler == moving.param_scheduler
    assert static.optim_wrapper == moving.optim_wrapper


def test_mini_model_runs_on_a_clip():
    cfg = Config.fromfile(str(CONFIGS / 'mini_ava' / 'vit_tiny.py'))
    model = MODELS.build(cfg.model).eval()
    sample = ActionDataSample(metainfo=dict(img_shape=(112, 149)))
    sample.proposals = torch.tensor([[10., 10., 60., 100.]])
    sample.proposal_scores = torch.tensor([0.9])
    clip = torch.randint(0, 255, (3, 8, 112, 149), dtype=torch.uint8)
    data = model.data_preprocessor(dict(inputs=[clip], data_samples=[sample]))
    with torch.no_grad():
        out = model(**data, mode='predict')[0]
    assert out.pred_scores.shape == (1, 80)
    assert float(out.pred_scores.max()) <= 0.9
