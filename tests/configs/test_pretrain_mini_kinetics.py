"""configs/pretrain/mini_kinetics.py: the mini pretraining recipe on the mini-Kinetics folder."""
from pathlib import Path

from mmengine.config import Config

from videomae_det.datasets.mini_kinetics import generate_mini_kinetics
from videomae_det.engine.config_checks import load_config
from videomae_det.registry import DATASETS

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


def test_reads_the_mini_kinetics_videos_with_the_mini_detector_encoder(tmp_path):
    cfg = load_config(str(CONFIGS / 'pretrain' / 'mini_kinetics.py'))
    data = cfg.train_dataloader.dataset
    assert (data.data_root, data.layout, data.data_prefix.video) == (
        'data/mini_kinetics', 'videos', 'videos')
    assert 'movie_list' not in data  # every video: none of them is a mini-AVA movie
    assert cfg.model.norm_target is False and cfg.model.mask_ratio == 0.9
    assert cfg.model.mask_type == 'tube'
    backbone = Config.fromfile(str(CONFIGS / 'mini_ava' / 'vit_tiny.py')).model.backbone
    keys = ('num_frames', 'img_size', 'patch_size', 'embed_dim', 'depth', 'num_heads')
    assert {k: cfg.model.encoder.get(k) for k in keys} == {k: backbone.get(k) for k in keys}

    root = tmp_path / 'mini_kinetics'
    generate_mini_kinetics(root, seed=0, movies=2, duration=2, workers=1)
    data.data_root = str(root)
    dataset = DATASETS.build(data)
    assert len(dataset) == 2
    assert dataset[0]['inputs'].shape == (3, 8, 112, 112)
