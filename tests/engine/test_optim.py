"""Layer-wise lr decay constructor: lr scale per layer, weight decay only where it belongs."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

from videomae_det.engine import LayerDecayOptimWrapperConstructor
from videomae_det.models import build_backbone


class TinyDetector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = build_backbone('vit_small', embed_dim=48, depth=3, num_heads=3)
        self.head = nn.Linear(48, 80)


class TinyPretrainer(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = build_backbone('vit_small', embed_dim=48, depth=2, num_heads=3)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, 24))
        self.decoder = nn.Linear(48, 24)


def build(model, rate=0.75, lr=1e-3, wd=0.05):
    return build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=lr, weight_decay=wd),
        constructor=LayerDecayOptimWrapperConstructor,
        paramwise_cfg=dict(layer_decay_rate=rate)))


def settings(wrapper, model):
    """name -> (lr, weight_decay) as the optimizer will use them."""
    by_id = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            assert id(p) not in by_id, 'a parameter is in two groups'
            by_id[id(p)] = (group['lr'], group['weight_decay'])
    return {name: by_id[id(p)] for name, p in model.named_parameters()}


def test_lr_scales_follow_layer_depth():
    model = TinyDetector()
    got = settings(build(model, rate=0.5), model)
    # 3 blocks: patch embed = layer 0 -> 0.5**4, block i -> 0.5**(3 - i), rest -> 1
    assert got['backbone.patch_embed.proj.weight'][0] == pytest.approx(1e-3 * 0.5 ** 4)
    assert got['backbone.patch_embed.proj.bias'][0] == pytest.approx(1e-3 * 0.5 ** 4)
    for i in range(3):
        for name in ('attn.qkv.weight', 'attn.q_bias', 'norm1.weight', 'mlp.fc2.bias'):
            assert got[f'backbone.blocks.{i}.{name}'][0] == pytest.approx(1e-3 * 0.5 ** (3 - i))
    for name in ('backbone.norm.weight', 'head.weight', 'head.bias'):
        assert got[name][0] == pytest.approx(1e-3)
    assert len(got) == len(list(model.parameters()))


def test_default_rate_is_075():
    model = TinyDetector()
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        constructor=LayerDecayOptimWrapperConstructor))
    # no paramwise_cfg at all still gets the layer decay
    assert settings(wrapper, model)['backbone.blocks.0.attn.qkv.weight'][0] == \
        pytest.approx(1e-3 * 0.75 ** 3)


def test_no_weight_decay_on_biases_norms_and_position_mask_params():
    model = TinyPretrainer()
    got = settings(build(model, rate=1.0), model)
    decayed = {name for name, (_, wd) in got.items() if wd == 0.05}
    assert decayed == {
        'encoder.patch_embed.proj.weight', 'decoder.weight',
        *(f'encoder.blocks.{i}.{n}' for i in range(2)
          for n in ('attn.qkv.weight', 'attn.proj.weight', 'mlp.fc1.weight', 'mlp.fc2.weight'))}
    assert got['mask_token'][1] == 0 and got['encoder.blocks.0.attn.v_bias'][1] == 0
    # rate 1.0: one lr for all (MAE pretraining)
    assert all(lr == pytest.approx(1e-3) for lr, _ in got.values())


def test_bad_configuration_is_a_clear_error():
    with pytest.raises(ValueError, match='unsupported paramwise_cfg keys'):
        build_optim_wrapper(TinyDetector(), dict(
            optimizer=dict(type='AdamW', lr=1e-3), constructor=LayerDecayOptimWrapperConstructor,
            paramwise_cfg=dict(layer_decay_rate=0.75, bias_decay_mult=0.)))
    with pytest.raises(TypeError, match='model.backbone'):
        build(nn.Linear(2, 2))


def test_a_step_moves_deep_layers_more():
    model = TinyDetector()
    wrapper = build(model, rate=0.1, wd=0.)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    feats = model.backbone(torch.randn(1, 3, 2, 32, 32)).mean((2, 3, 4))
    wrapper.update_params(model.head(feats).square().mean())
    # AdamW's first step moves every weight by ~lr: the ratio shows the per-layer lr
    with torch.no_grad():
        first = model.backbone.blocks[0].mlp.fc1.weight - before['backbone.blocks.0.mlp.fc1.weight']
        last = model.backbone.blocks[2].mlp.fc1.weight - before['backbone.blocks.2.mlp.fc1.weight']
    assert (last.abs().max() / first.abs().max()).item() == pytest.approx(100, rel=0.01)
