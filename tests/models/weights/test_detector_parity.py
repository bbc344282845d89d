"""Released AVA detectors, as downloaded, give the logits of their own code in ours.

For each source, random weights are saved in that source's exact file layout and loaded by
``init_detector`` with the source's ``configs/ava/zoo`` convention; our
``model(inputs, data_samples, mode='tensor')`` must match the source's forward on the same
normalised, padded clip batch and the same boxes to 1e-4.

* VideoMAE-Action-Detection (VAD): its code cannot be vendored, so :func:`vad_forward` is a
  plain re-statement of ``modeling_finetune.VisionTransformer.forward`` (eval mode) written
  from reading it: tubelet conv, the numpy-style sinusoid table resized per temporal slice
  (bicubic), pre-norm blocks with q/v biases and plain softmax attention, final norm, mean
  over time, ``BoxList.extend((0.1, 0.05))`` on maskrcnn-benchmark boxes (widths
  ``x2 - x1 + 1``, clip to ``[0, W - 1]``), torchvision ``roi_align`` 7x7 at 1/16 with
  sampling ratio 0 and ``aligned=False`` (what its ``ROIAlign3d`` calls), 7x7 max pool,
  ``head``.
* mmaction2: its own modules from the installed test-only package, loaded file by file
  (``mmaction.models`` does not import without mmdet/mmcv ops): ``backbones/vit_mae.py``,
  ``roi_extractors/single_straight3d.py``, ``bbox_heads/bbox_head.py``. Substitutions, for
  loading only: ``mmcv.ops.RoIAlign`` is torchvision's ``roi_align`` with the same arguments
  (output 8, scale 1/16, sampling 0, ``aligned=True``, average pooling -- the same algorithm),
  and ``mmdet``'s ``SamplingResult`` (a type hint of the training path) is an empty class.
"""
import argparse
import importlib.util
import math
import sys
import types
from functools import partial
from unittest import mock
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torchvision.ops import roi_align

from videomae_det.apis import init_detector
from videomae_det.registry import MODELS
from videomae_det.structures import ActionDataSample

ROOT = Path(__file__).resolve().parents[3]
ZOO = ROOT / 'configs' / 'ava' / 'zoo'
NARROW = dict(embed_dim=48, depth=2, num_heads=3)


# ---------------------------------------------------------------------------------------
# VideoMAE-Action-Detection: key layout and forward, re-stated from its modeling_finetune.py
# ---------------------------------------------------------------------------------------


def vad_state_dict(dim, depth, num_classes=80, generator=None):
    """Random weights under every key (and shape) of VAD's detection model."""
    def r(*shape):
        return torch.randn(*shape, generator=generator) * 0.1

    sd = {'patch_embed.proj.weight': r(dim, 3, 2, 16, 16), 'patch_embed.proj.bias': r(dim)}
    for i in range(depth):
        p = f'blocks.{i}.'
        sd.update({
            p + 'norm1.weight': 1 + r(dim), p + 'norm1.bias': r(dim),
            p + 'attn.q_bias': r(dim), p + 'attn.v_bias': r(dim),
            p + 'attn.qkv.weight': r(3 * dim, dim),
            p + 'attn.proj.weight': r(dim, dim), p + 'attn.proj.bias': r(dim),
            p + 'norm2.weight': 1 + r(dim), p + 'norm2.bias': r(dim),
            p + 'mlp.fc1.weight': r(4 * dim, dim), p + 'mlp.fc1.bias': r(4 * dim),
            p + 'mlp.fc2.weight': r(dim, 4 * dim), p + 'mlp.fc2.bias': r(dim),
        })
    sd.update({'norm.weight': 1 + r(dim), 'norm.bias': r(dim),
               'head.weight': r(num_classes, dim), 'head.bias': r(num_classes)})
    return sd


def vad_sinusoid(n, d):
    table = np.array([[p / np.power(10000, 2 * (j // 2) / d) for j in range(d)]
                      for p in range(n)])
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.tensor(table, dtype=torch.float).unsqueeze(0)


def vad_extend(boxes, scale, size):
    """``BoxList.extend`` + ``clip_to_image`` on xyxy boxes; ``size`` = (W, H)."""
    x1, y1, x2, y2 = boxes.split(1, dim=-1)
    pw, ph = scale[0] * (x2 - x1 + 1) / 2, scale[1] * (y2 - y1 + 1) / 2
    out = torch.cat((x1 - pw, y1 - ph, x2 + pw, y2 + ph), dim=-1)
    out[:, 0].clamp_(0, size[0] - 1)
    out[:, 1].clamp_(0, size[1] - 1)
    out[:, 2].clamp_(0, size[0] - 1)
    out[:, 3].clamp_(0, size[1] - 1)
    return out


def vad_forward(sd, num_heads, x, boxes, sizes, img_size=224, all_frames=16):
    """VAD's eval forward. x: (B, 3, T, H, W); boxes: per clip (K_i, 4) xyxy in VAD's
    convention, input pixels; sizes: per clip (W, H) of its BoxList."""
    x = F.conv3d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'],
                 stride=(2, 16, 16))
    B, width, t, h, w = x.shape
    x = x.flatten(2).transpose(1, 2)
    grid = img_size // 16
    pos = vad_sinusoid((all_frames // 2) * grid * grid, width).reshape(t, -1, width)
    pos = pos.reshape(-1, grid, grid, width).permute(0, 3, 1, 2)
    pos = F.interpolate(pos, size=[h, w], mode='bicubic', align_corners=False)
    pos = pos.permute(0, 2, 3, 1).flatten(1, 2).reshape(1, -1, width)
    x = x + pos
    depth = len({k.split('.')[1] for k in sd if k.startswith('blocks.')})
    for i in range(depth):
        p = f'blocks.{i}.'
        y = F.layer_norm(x, (width,), sd[p + 'norm1.weight'], sd[p + 'norm1.bias'], 1e-6)
        bias = torch.cat((sd[p + 'attn.q_bias'], torch.zeros_like(sd[p + 'attn.v_bias']),
                          sd[p + 'attn.v_bias']))
        qkv = F.linear(y, sd[p + 'attn.qkv.weight'], bias)
        qkv = qkv.reshape(B, -1, 3, num_heads, width // num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * (width // num_heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(B, -1, width)
        x = x + F.linear(y, sd[p + 'attn.proj.weight'], sd[p + 'attn.proj.bias'])
        y = F.layer_norm(x, (width,), sd[p + 'norm2.weight'], sd[p + 'norm2.bias'], 1e-6)
        y = F.linear(F.gelu(F.linear(y, sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'])),
                     sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'])
        x = x + y
    x = F.layer_norm(x, (width,), sd['norm.weight'], sd['norm.bias'], 1e-6)
    x = x.reshape(B, t, h, w, -1).permute(0, 4, 1, 2, 3).mean(dim=2)
    extended = [vad_extend(b, (0.1, 0.05), s) for b, s in zip(boxes, sizes)]
    rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], 1)
                      for i, b in enumerate(extended)])
    pooled = roi_align(x, rois, (7, 7), 0.0625, 0)
    pooled = F.max_pool2d(pooled, (7, 7)).view(len(rois), -1)
    return F.linear(pooled, sd['head.weight'], sd['head.bias'])


# ---------------------------------------------------------------------------------------
# mmaction2: its own modules, loaded in isolation
# ---------------------------------------------------------------------------------------

MMACTION = Path(sys.modules['torch'].__file__).parents[1] / 'mmaction' / 'models'


@pytest.fixture(scope='module')
def mmaction2():
    if not MMACTION.is_dir():
        pytest.skip('the test-only mmaction2 package is not installed')

    class RoIAlign(torch.nn.Module):  # stands in for mmcv.ops.RoIAlign
        def __init__(self, output_size, spatial_scale, sampling_ratio=0, pool_mode='avg',
                     aligned=True):
            super().__init__()
            assert pool_mode == 'avg'
            self.args = (output_size, spatial_scale, sampling_ratio, aligned)

        def forward(self, feat, rois):
            size, scale, ratio, aligned = self.args
            return roi_align(feat, rois, size, scale, ratio, aligned=aligned)

    stubs = {
        'mmcv.ops': types.SimpleNamespace(RoIAlign=RoIAlign, RoIPool=None),
        'mmdet': types.ModuleType('mmdet'),
        'mmdet.models': types.ModuleType('mmdet.models'),
        'mmdet.models.task_modules': types.ModuleType('mmdet.models.task_modules'),
        'mmdet.models.task_modules.samplers': types.SimpleNamespace(
            SamplingResult=type('SamplingResult', (), {})),
    }
    # the stubs stay while the module's tests run: the extractor imports mmcv.ops when built
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    from mmaction.registry import MODELS as mm_models
    try:
        modules = {}
        for name, rel in (('vit', 'backbones/vit_mae.py'),
                          ('extractor', 'roi_heads/roi_extractors/single_straight3d.py'),
                          ('bbox_head', 'roi_heads/bbox_heads/bbox_head.py')):
            spec = importlib.util.spec_from_file_location(f'_mmaction2_{name}', MMACTION / rel)
            module = importlib.util.module_from_spec(spec)
            # another test (benchmarks/backbone_speed.py's loader) may have registered the
            # same classes in mmaction's registry already; let this copy register too
            with mock.patch.object(mm_models, '_register_module',
                                   partial(_forced, mm_models._register_module)):
                spec.loader.exec_module(module)
            modules[name] = module
        yield modules
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def _forced(register, module, module_name=None, force=False):
    return register(module, module_name, force=True)


class MMAction2Detector(torch.nn.Module):
    """mmaction2's FastRCNN test path for its VideoMAE AVA configs: backbone -> bbox2roi ->
    SingleRoIExtractor3D (temporal average, RoIAlign 8x8 aligned) -> BBoxHeadAVA."""

    def __init__(self, mm, embed_dims, depth, num_heads):
        super().__init__()
        self.backbone = mm['vit'].VisionTransformer(
            img_size=224, patch_size=16, embed_dims=embed_dims, depth=depth,
            num_heads=num_heads, mlp_ratio=4, qkv_bias=True, num_frames=16,
            norm_cfg=dict(type='LN', eps=1e-6), drop_path_rate=0.2, use_mean_pooling=False,
            return_feat_map=True)
        self.extractor = mm['extractor'].SingleRoIExtractor3D(
            roi_layer_type='RoIAlign', output_size=8, with_temporal_pool=True)
        self.bbox_head = mm['bbox_head'].BBoxHeadAVA(
            background_class=True, in_channels=embed_dims, num_classes=81, multilabel=True,
            dropout_ratio=0.5)

    def state_dict_as_released(self):
        sd = {f'backbone.{k}': v for k, v in self.backbone.state_dict().items()}
        sd.update({f'roi_head.bbox_head.{k}': v for k, v in self.bbox_head.state_dict().items()})
        return sd

    def forward(self, x, boxes):
        feat = self.backbone(x)
        rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], 1)
                          for i, b in enumerate(boxes)])
        roi_feats, _ = self.extractor(feat, rois)
        return self.bbox_head(roi_feats)


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def zoo_config(name, **backbone):
    cfg = Config.fromfile(str(ZOO / f'{name}.py'))
    cfg.model.backbone.update(backbone)
    return cfg


def samples_for(boxes, shapes):
    out = []
    for b, (h, w) in zip(boxes, shapes):
        s = ActionDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        s.proposals = b
        out.append(s)
    return out


def random_boxes(g, n, h, w):
    x1 = torch.rand(n, generator=g) * (w - 40)
    y1 = torch.rand(n, generator=g) * (h - 40)
    return torch.stack([x1, y1, x1 + 20 + torch.rand(n, generator=g) * 20,
                        y1 + 20 + torch.rand(n, generator=g) * 20], 1)


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize('size, dim, depth', [('small', 384, 12), ('base', 768, 12),
                                              ('large', 1024, 24), ('huge', 1280, 32)])
def test_vad_zoo_configs_hold_every_key_of_the_released_files(size, dim, depth):
    from videomae_det.models.weights import DETECTOR_CONVERTERS, compare
    cfg = Config.fromfile(str(ZOO / f'vad_vit_{size}.py'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
        released = {k: torch.empty(shape) for k, shape in _vad_shapes(dim, depth).items()}
    converted, _ = DETECTOR_CONVERTERS['vad_detector'](released)
    report = compare(model.state_dict(), converted)
    assert report.ok, report.describe()


def test_the_two_restatements_of_vads_layout_agree():
    sd = vad_state_dict(48, 2)
    assert {k: tuple(v.shape) for k, v in sd.items()} == _vad_shapes(48, 2)


def _vad_shapes(dim, depth):
    shapes = {'patch_embed.proj.weight': (dim, 3, 2, 16, 16), 'patch_embed.proj.bias': (dim,),
              'norm.weight': (dim,), 'norm.bias': (dim,), 'head.weight': (80, dim),
              'head.bias': (80,)}
    for i in range(depth):
        p = f'blocks.{i}.'
        shapes.update({p + n: s for n, s in {
            'norm1.weight': (dim,), 'norm1.bias': (dim,), 'attn.q_bias': (dim,),
            'attn.v_bias': (dim,), 'attn.qkv.weight': (3 * dim, dim),
            'attn.proj.weight': (dim, dim), 'attn.proj.bias': (dim,), 'norm2.weight': (dim,),
            'norm2.bias': (dim,), 'mlp.fc1.weight': (4 * dim, dim), 'mlp.fc1.bias': (4 * dim,),
            'mlp.fc2.weight': (dim, 4 * dim), 'mlp.fc2.bias': (dim,)}.items()})
    return shapes


@pytest.mark.parametrize('size, dim, depth, heads', [('base', 768, 12, 12),
                                                     ('large', 1024, 24, 16)])
def test_mmaction2_zoo_configs_hold_every_key_of_the_released_files(mmaction2, size, dim,
                                                                    depth, heads):
    from videomae_det.models.weights import DETECTOR_CONVERTERS, compare
    cfg = Config.fromfile(str(ZOO / f'mmaction2_vit_{size}.py'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    # mmaction2's ViT cannot be built on the meta device (it calls .item()): build it at the
    # real width with 2 blocks and repeat block 0's keys for every block of the real depth
    two = MMAction2Detector(mmaction2, dim, 2, heads).state_dict_as_released()
    released = {k: v for k, v in two.items() if not k.startswith('backbone.blocks.')}
    for i in range(depth):
        released.update({k.replace('blocks.0.', f'blocks.{i}.'): v for k, v in two.items()
                         if k.startswith('backbone.blocks.0.')})
    assert 'backbone.pos_embed' in released and 'roi_head.bbox_head.fc_cls.weight' in released
    converted, dropped = DETECTOR_CONVERTERS['mmaction2_detector'](released)
    report = compare(model.state_dict(), converted)
    assert report.ok, report.describe()
    assert set(dropped) == {'backbone.pos_embed'}


def test_vad_detector_file_gives_vads_logits(tmp_path):
    g = torch.Generator().manual_seed(0)
    sd = vad_state_dict(NARROW['embed_dim'], NARROW['depth'], generator=g)
    path = tmp_path / 'checkpoint-best.pth'
    # as VAD's utils.save_model writes it
    torch.save({'model': sd, 'epoch': 29, 'args': argparse.Namespace(model='vit_small')}, path)
    cfg = zoo_config('vad_vit_small', **NARROW)
    model = init_detector(cfg, path)
    # a released file keeps no config of ours: the error names the zoo config to use
    with pytest.raises(ValueError, match=r'checkpoint-best.pth: a released vad_detector '
                                         r'file; pass its config.*zoo/'):
        init_detector(None, path)
    # two clips of different sizes in one padded batch (VAD pads to 16 likewise)
    shapes = [(128, 170), (112, 150)]
    x = torch.randn(2, 3, 16, 128, 176, generator=g)
    for i, (h, w) in enumerate(shapes):
        x[i, :, :, h:] = 0
        x[i, :, :, :, w:] = 0
    vad_boxes = [random_boxes(g, 3, h, w) for h, w in shapes]
    vad_boxes[0][0] = torch.tensor([0., 0., w - 1, h - 1])  # whole frame: the clip matters
    # the same boxes in our convention (x2 = x + w): one pixel more (here ori = img size)
    ours = [b + torch.tensor([0., 0., 1., 1.]) for b in vad_boxes]
    with torch.no_grad():
        got = model(x, samples_for(ours, shapes), mode='tensor')
        want = vad_forward(sd, NARROW['num_heads'], x, vad_boxes,
                           [(w, h) for h, w in shapes])
    assert got.shape == want.shape == (6, 80)
    assert want.abs().max() > 0.1
    torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


def test_mmaction2_detector_file_gives_mmaction2s_logits(mmaction2, tmp_path):
    torch.manual_seed(0)
    reference = MMAction2Detector(mmaction2, **{'embed_dims': 48, 'depth': 2,
                                                'num_heads': 3}).eval()
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    path = tmp_path / 'vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb.pth'
    torch.save({'state_dict': reference.state_dict_as_released(),
                'meta': {'mmaction2_version': '1.0.0', 'epoch': 20}}, path)
    model = init_detector(zoo_config('mmaction2_vit_base', **NARROW), path)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, 16, 128, 160, generator=g)
    boxes = [random_boxes(g, 4, 128, 160)]
    with torch.no_grad():
        got = model(x, samples_for(boxes, [(128, 160)]), mode='tensor')
        want = reference(x, boxes)
    assert want.shape == (4, 81) and got.shape == (4, 80)
    torch.testing.assert_close(got, want[:, 1:], rtol=0, atol=1e-4)
