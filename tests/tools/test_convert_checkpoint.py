"""tools/convert_checkpoint.py: any known source -> a plain state dict in our layout."""
import argparse
import importlib.util
from pathlib import Path

import pytest
import torch

from videomae_det.models import build_backbone, load_pretrained

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'convert_checkpoint.py'


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('convert_checkpoint', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def vit_s_state():
    torch.manual_seed(0)
    return build_backbone('vit_small').state_dict()  # real ViT-S sizes, 22M weights


def test_official_finetuned_file_to_our_layout(tool, vit_s_state, tmp_path, capsys):
    weights = {k: v for k, v in vit_s_state.items() if not k.startswith('norm.')}
    weights.update({'fc_norm.weight': torch.ones(384), 'fc_norm.bias': torch.zeros(384),
                    'head.weight': torch.zeros(400, 384), 'head.bias': torch.zeros(400)})
    src, out = tmp_path / 'vit_s_k400.pth', tmp_path / 'out' / 'vit_s.pth'
    torch.save({'module': weights, 'args': argparse.Namespace(model='vit_small')}, src)
    assert tool.main([str(src), str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'source official_finetune, arch vit_small' in printed
    assert 'missing norm.weight' in printed and 'dropped head.weight' in printed
    converted = torch.load(out, weights_only=True)  # a plain state dict
    assert converted.keys() == vit_s_state.keys() - {'norm.weight', 'norm.bias'}
    for key, value in converted.items():
        assert torch.equal(value, vit_s_state[key]), key
    # and our loader takes it back as one of ours
    model = build_backbone('vit_small')
    report = load_pretrained(model, out)
    assert report.source == 'ours' and report.unexpected == []


def test_wrong_arch_or_unknown_keys_write_nothing(tool, vit_s_state, tmp_path, capsys):
    src, out = tmp_path / 'vit_s.pth', tmp_path / 'out.pth'
    torch.save(vit_s_state, src)
    assert tool.main([str(src), str(out), '--arch', 'vit_base']) == 2  # bad input
    err = capsys.readouterr().err
    assert "vit_s.pth" in err and "'patch_embed.proj.weight' has shape (384, 3, 2, 16, 16)" in err
    torch.save({**vit_s_state, 'blocks.0.attn.gamma': torch.ones(384)}, src)
    assert tool.main([str(src), str(out)]) == 2
    assert 'blocks.0.attn.gamma' in capsys.readouterr().err
    tiny = build_backbone('vit_small', embed_dim=48, depth=2, num_heads=3)
    torch.save(tiny.state_dict(), src)
    assert tool.main([str(src), str(out)]) == 2
    assert 'match no variant' in capsys.readouterr().err
    assert not out.exists()


def test_trust_pickle_is_an_explicit_opt_in(tool, vit_s_state, tmp_path, capsys):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('test_convert_checkpoint')
    hub.update_scalar('train/loss', 0.5)
    src, out = tmp_path / 'epoch_3.pth', tmp_path / 'out.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in vit_s_state.items()},
                'message_hub': hub.state_dict()}, src)
    assert tool.main([str(src), str(out)]) == 2
    assert 'refused' in capsys.readouterr().err and not out.exists()
    assert tool.main([str(src), str(out), '--trust-pickle']) == 0
    assert torch.load(out, weights_only=True).keys() == vit_s_state.keys()


def _vad_file(path, seed=0):
    """A VideoMAE-Action-Detection ViT-S detector file (real sizes), as it saves it."""
    sys_path = str(Path(__file__).resolve().parents[1] / 'models' / 'weights')
    import sys
    sys.path.insert(0, sys_path)
    try:
        from test_detector_parity import vad_state_dict
    finally:
        sys.path.remove(sys_path)
    state = vad_state_dict(384, 12, generator=torch.Generator().manual_seed(seed))
    torch.save({'model': state, 'epoch': 29, 'args': argparse.Namespace()}, path)
    return state


def test_released_detector_to_our_format_with_its_zoo_config(tool, tmp_path, capsys):
    from videomae_det.apis import init_detector
    src, out = tmp_path / 'vad_vit_s.pth', tmp_path / 'ours.pth'
    state = _vad_file(src)
    assert tool.main([str(src), str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'source vad_detector' in printed and 'vad_vit_small.py' in printed
    converted = torch.load(out, weights_only=True)
    assert converted['meta']['source'] == 'vad_detector'
    # the stored config (read as data) rebuilds the VAD-convention model with the weights
    model = init_detector(None, out)
    assert model.box_convention == 'inclusive' and not model.roi_head.aligned
    assert torch.equal(model.roi_head.fc_cls.weight, state['head.weight'])
    assert torch.equal(model.backbone.blocks[11].attn.q_bias, state['blocks.11.attn.q_bias'])


def test_released_detector_with_the_wrong_config_writes_nothing(tool, tmp_path, capsys):
    src, out = tmp_path / 'vad_vit_s.pth', tmp_path / 'ours.pth'
    _vad_file(src)
    config = Path(__file__).resolve().parents[2] / 'configs/ava/zoo/mmaction2_vit_base.py'
    assert tool.main([str(src), str(out), '--config', str(config)]) == 2  # bad input
    err = capsys.readouterr().err
    assert 'vad_vit_s.pth' in err and 'likely cause: the checkpoint is a ViT of width 384' in err
    assert not out.exists()
