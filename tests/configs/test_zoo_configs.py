"""configs/ava/zoo: the released detectors' test-time conventions, and configs that build."""
import inspect
from pathlib import Path

import pytest
from mmengine.config import Config

from videomae_det.datasets import AVAVideoDataset
from videomae_det.datasets.layouts import build_layout
from videomae_det.engine.config_checks import load_config
from videomae_det.registry import MODELS, TRANSFORMS

ZOO = Path(__file__).resolve().parents[2] / 'configs' / 'ava' / 'zoo'
NAMES = ['vad_vit_small', 'vad_vit_base', 'vad_vit_large', 'vad_vit_huge',
         'mmaction2_vit_base', 'mmaction2_vit_large']
SIZES = dict(small=(384, 12, 6), base=(768, 12, 12), large=(1024, 24, 16),
             huge=(1280, 32, 16))


def test_one_config_per_released_architecture():
    assert sorted(p.stem for p in ZOO.glob('*.py')) == sorted(NAMES)


@pytest.mark.parametrize('name', NAMES)
def test_zoo_config_builds_its_model_pipeline_and_dataset_arguments(name):
    cfg = load_config(str(ZOO / f'{name}.py'))
    b = cfg.model.backbone
    assert (b.embed_dim, b.depth, b.num_heads) == SIZES[name.rsplit('_', 1)[1]]
    assert b.pretrained is None  # the detector file holds everything
    for loader in ('val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        accepted = set(inspect.signature(AVAVideoDataset.__init__).parameters)
        assert set(dataset) - {'type'} <= accepted, set(dataset) - accepted
        build_layout(dataset.layout, dataset.data_root)
        for step in dataset.pipeline:
            TRANSFORMS.build(step)
    small = Config(cfg.model.to_dict())
    small.backbone.update(embed_dim=24, depth=1, num_heads=2)
    MODELS.build(small)


def test_vad_conventions():
    cfg = load_config(str(ZOO / 'vad_vit_base.py'))
    m = cfg.model
    assert m.box_convention == 'inclusive' and tuple(m.test_widen) == (0.1, 0.05)
    assert (m.roi_head.roi_size, m.roi_head.aligned, m.roi_head.sampling_ratio) == (7, False, 0)
    assert not m.roi_head.get('background_class', False)
    assert m.data_preprocessor.mean == [122.7717, 115.9465, 102.9801]
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert [s['type'].__name__ for s in pipeline] == ['Resize', 'PackActionInputs']
    assert pipeline[0]['rounding'] == 'floor' and pipeline[0]['scale'] == 256
    assert cfg.test_dataloader.dataset.det_score_thr == 0.8
    assert cfg.test_dataloader.dataset.sample_offset == 0.04


def test_mmaction2_conventions():
    cfg = load_config(str(ZOO / 'mmaction2_vit_large.py'))
    m = cfg.model
    assert m.get('box_convention', 'exclusive') == 'exclusive' and not m.get('test_widen')
    assert (m.roi_head.roi_size, m.roi_head.aligned, m.roi_head.background_class) == \
        (8, True, True)
    assert m.data_preprocessor.crop_to_divisor
    dataset = cfg.test_dataloader.dataset
    assert cfg.test_dataloader.batch_size == 1 and dataset.det_score_thr == 0.9
    assert dataset.det_keep_best and dataset.proposal_file.endswith('.FAIR.recall_93.9.pkl')
    assert dataset.layout['type'] == 'frames' and dataset.layout['fps'] == 30
    assert dataset.layout['start_sec'] == pytest.approx(900 - 1 / 30)
    assert dataset.sample_fps == 30
    assert cfg.test_evaluator.mode == 'legacy'
