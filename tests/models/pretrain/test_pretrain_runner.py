"""End to end: tools/train.py runs configs/pretrain/mini_ava.py on a generated mini-AVA, and
the checkpoint it writes initialises the detector's backbone with no missing key."""
import importlib.util
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from videomae_det.datasets.mini_ava import generate_mini_ava
from videomae_det.models import build_backbone, load_pretrained

ROOT = Path(__file__).resolve().parents[3]
TINY = dict(embed_dim=48, depth=2, num_heads=3)


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_mini_pretraining_through_train_py_and_into_the_detector_backbone(tmp_path):
    data = tmp_path / 'mini_ava'
    generate_mini_ava(str(data), seed=0, size='tiny', workers=1)
    work = tmp_path / 'work'
    options = [f'train_dataloader.dataset.data_root={data}', 'train_dataloader.batch_size=4',
               'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
               'train_cfg.max_epochs=1', 'model.decoder_embed_dim=24', 'model.decoder_depth=1']
    options += [f'model.encoder.{k}={v}' for k, v in TINY.items()]
    code = load_tool('train').main(
        ['configs/pretrain/mini_ava.py', '--work-dir', str(work), '--cfg-options', *options])
    assert code == 0
    ckpt = work / 'epoch_1.pth'
    state = torch.load(ckpt, weights_only=True)['state_dict']  # safe load, as users do
    assert 'decoder.head.weight' in state and 'mask_token' in state

    # the mini detector's backbone geometry (patch size included), at the test's tiny width
    geometry = Config.fromfile(str(ROOT / 'configs' / 'mini_ava' / 'vit_tiny.py')).model.backbone
    backbone = build_backbone('vit_small', num_frames=geometry.num_frames,
                              img_size=geometry.img_size, patch_size=geometry.patch_size, **TINY)
    report = load_pretrained(backbone, ckpt)
    assert report.missing == [] and report.unexpected == []
    assert report.source == 'ours' and 'decoder.head.weight' in report.dropped
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, state[f'encoder.{key}']), key
