"""Checkpoint interoperability: HuggingFace, official VideoMAE, mmaction2 and our layouts.

The reference is a random HuggingFace ``VideoMAEModel`` (narrow: dim 48, 2 layers) built
here and saved with ``save_pretrained``; every other layout is the same weights re-keyed
as that source writes them, so every load must reproduce HF's tokens.

Other input sizes: HF never resizes its position table (it raises on other H, W and builds
a 1-D table for its configured ``num_frames``). Its semantics agree with ours when
 - only T changes: our table for more/fewer slices is the same 1-D table extended/cut,
   which is what HF builds for its ``num_frames`` -> a 16x224 model of ours fed 8 frames
   matches HF configured for 8 frames;
 - the model is configured for the input size (no resize on either side).
A spatial resize (our per-slice bicubic) has no HF counterpart; tests/models/backbones
checks it against the interpolation itself.
"""
import argparse
import os

import pytest
import torch
from transformers import VideoMAEConfig, VideoMAEModel

from videomae_det.models import build_backbone, load_pretrained
from videomae_det.models.weights import MMACTION2_NAMES
from videomae_det.models.weights import UnsafeCheckpointError

NARROW = dict(embed_dim=48, depth=2, num_heads=3)


def make_hf(num_frames=16, image_size=224) -> VideoMAEModel:
    config = VideoMAEConfig(
        image_size=image_size, num_frames=num_frames, hidden_size=48, num_hidden_layers=2,
        num_attention_heads=3, intermediate_size=192, use_mean_pooling=False,
        attn_implementation='eager')
    torch.manual_seed(0)
    model = VideoMAEModel(config).eval()
    with torch.no_grad():  # HF inits biases at zero: make every weight count
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return model


@pytest.fixture(scope='module')
def hf_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp('hf')
    make_hf().save_pretrained(path)
    return path


@pytest.fixture(scope='module')
def hf_model(hf_dir):
    return VideoMAEModel.from_pretrained(hf_dir).eval()


@pytest.fixture(scope='module')
def video():
    torch.manual_seed(1)
    return torch.randn(1, 3, 16, 224, 224)


@pytest.fixture(scope='module')
def hf_tokens(hf_model, video):
    with torch.no_grad():
        return hf_model(video.transpose(1, 2)).last_hidden_state  # HF takes (B, T, C, H, W)


def ours(**kw):
    return build_backbone('vit_small', **{**NARROW, **kw}).eval()


def tokens_of(model, x, mask=None):
    with torch.no_grad():
        return model.forward_features(x, mask)


@pytest.fixture(scope='module')
def our_state(hf_dir):
    model = ours()
    load_pretrained(model, hf_dir)
    return model.state_dict()


# ---- HuggingFace ------------------------------------------------------------------------


def test_huggingface_safetensors_dir_matches_at_16x224(hf_dir, video, hf_tokens):
    assert (hf_dir / 'model.safetensors').is_file()
    model = ours()
    report = load_pretrained(model, hf_dir)
    missing, unexpected = report
    assert (missing, unexpected, report.source) == ([], [], 'huggingface')
    torch.testing.assert_close(tokens_of(model, video), hf_tokens, atol=1e-4, rtol=0)


def test_huggingface_bin_file_matches(tmp_path, hf_model, video, hf_tokens):
    # the pre-safetensors save_pretrained layout: config.json + pytorch_model.bin
    hf_model.config.save_pretrained(tmp_path)
    torch.save(hf_model.state_dict(), tmp_path / 'pytorch_model.bin')
    model = ours()
    assert load_pretrained(model, tmp_path) == ([], [])
    torch.testing.assert_close(tokens_of(model, video), hf_tokens, atol=1e-4, rtol=0)


def test_huggingface_fewer_frames_than_pretraining(hf_dir, video):
    hf8 = VideoMAEModel.from_pretrained(hf_dir, num_frames=8).eval()
    x = video[:, :, :8]
    with torch.no_grad():
        expected = hf8(x.transpose(1, 2)).last_hidden_state
    model = ours()  # defined for 16 frames, fed 8
    load_pretrained(model, hf_dir)
    torch.testing.assert_close(tokens_of(model, x), expected, atol=1e-4, rtol=0)


def test_huggingface_model_configured_for_another_size(tmp_path):
    hf = make_hf(num_frames=4, image_size=(64, 96))
    hf.save_pretrained(tmp_path)
    x = torch.randn(2, 3, 4, 64, 96)
    with torch.no_grad():
        expected = hf(x.transpose(1, 2)).last_hidden_state
    model = ours(num_frames=4, img_size=(64, 96))
    assert load_pretrained(model, tmp_path) == ([], [])
    torch.testing.assert_close(tokens_of(model, x), expected, atol=1e-4, rtol=0)


def test_mask_matches_huggingface_bool_masked_pos(hf_dir, hf_model):
    # HF's bool_masked_pos uses the same convention: True = masked (dropped)
    x = torch.randn(2, 3, 16, 224, 224)
    torch.manual_seed(2)
    mask = torch.stack([torch.randperm(1568) < 1400 for _ in range(2)])
    with torch.no_grad():
        expected = hf_model(x.transpose(1, 2), bool_masked_pos=mask).last_hidden_state
    model = ours()
    load_pretrained(model, hf_dir)
    out = tokens_of(model, x, mask)
    assert out.shape == (2, 168, 48)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


# ---- official VideoMAE files --------------------------------------------------------------


def official_args():
    return argparse.Namespace(model='vit_small_patch16_224', num_frames=16, lr=1e-3)


def test_official_pretraining_checkpoint(tmp_path, our_state, video, hf_tokens):
    weights = {f'encoder.{k}': v for k, v in our_state.items()}
    weights.update({
        'encoder_to_decoder.weight': torch.randn(24, 48),
        'mask_token': torch.zeros(1, 1, 24),
        'decoder.blocks.0.attn.qkv.weight': torch.randn(72, 24),
        'decoder.norm.weight': torch.ones(24),
        'decoder.head.weight': torch.randn(1536, 24),
    })
    path = tmp_path / 'checkpoint-799.pth'
    torch.save({'model': weights, 'args': official_args(), 'epoch': 799,
                'scaler': {'scale': 65536.0}}, path)
    model = ours()
    report = load_pretrained(model, path)
    assert (report.missing, report.unexpected, report.source) == ([], [], 'official_pretrain')
    assert set(report.dropped) == {'encoder_to_decoder.weight', 'mask_token',
                                   'decoder.blocks.0.attn.qkv.weight', 'decoder.norm.weight',
                                   'decoder.head.weight'}
    torch.testing.assert_close(tokens_of(model, video), hf_tokens, atol=1e-4, rtol=0)


@pytest.mark.parametrize('container', ['module', 'model'])
def test_official_finetuned_checkpoint(tmp_path, container, our_state, hf_model, video):
    # fine-tuned files pool with mean + fc_norm: no per-token `norm`, a 400-class head
    weights = {k: v for k, v in our_state.items() if not k.startswith('norm.')}
    weights.update({'fc_norm.weight': torch.rand(48), 'fc_norm.bias': torch.rand(48),
                    'head.weight': torch.randn(400, 48), 'head.bias': torch.randn(400)})
    path = tmp_path / 'k400_finetune.pth'
    torch.save({container: weights, 'args': official_args()}, path)
    model = ours()
    report = load_pretrained(model, path)
    assert report.source == 'official_finetune'
    assert sorted(report.missing) == ['norm.bias', 'norm.weight'] and report.unexpected == []
    assert set(report.dropped) == {'fc_norm.weight', 'fc_norm.bias', 'head.weight',
                                   'head.bias'}
    # `norm` keeps its unit init: HF with an identity-affine final LayerNorm
    ref = VideoMAEModel(hf_model.config).eval()
    ref.load_state_dict(hf_model.state_dict())
    with torch.no_grad():
        ref.layernorm.weight.fill_(1.)
        ref.layernorm.bias.zero_()
        expected = ref(video.transpose(1, 2)).last_hidden_state
    torch.testing.assert_close(tokens_of(model, video), expected, atol=1e-4, rtol=0)


# ---- mmaction2 and our own files -----------------------------------------------------------


def test_mmaction2_checkpoint(tmp_path, our_state, video, hf_tokens):
    weights = {}
    for key, value in our_state.items():
        for theirs, ours_name in MMACTION2_NAMES.items():
            key = key.replace(ours_name, theirs)
        weights[f'backbone.{key}'] = value
    weights['backbone.pos_embed'] = torch.zeros(1, 1568, 48)
    weights['cls_head.fc_cls.weight'] = torch.randn(400, 48)
    path = tmp_path / 'mmaction.pth'
    torch.save({'meta': {'epoch': 3}, 'state_dict': weights}, path)
    model = ours()
    report = load_pretrained(model, path)
    assert (report.missing, report.unexpected, report.source) == ([], [], 'mmaction2')
    torch.testing.assert_close(tokens_of(model, video), hf_tokens, atol=1e-4, rtol=0)


@pytest.mark.parametrize('prefix,extra', [
    ('backbone.', {'roi_head.fc_cls.weight': torch.zeros(80, 48)}),  # our detector
    ('encoder.', {'mask_token': torch.zeros(1, 1, 24)}),  # our MAE pretraining model
    ('', {}),  # a bare backbone state dict
])
def test_our_checkpoints(tmp_path, prefix, extra, our_state, video, hf_tokens):
    weights = {f'{prefix}{k}': v for k, v in our_state.items()}
    weights.update(extra)
    path = tmp_path / 'ours.pth'
    torch.save({'meta': {'cfg': 'model = dict()'}, 'state_dict': weights} if prefix
               else weights, path)
    model = ours()
    report = load_pretrained(model, path)
    assert (report.missing, report.unexpected, report.source) == ([], [], 'ours')
    assert set(report.dropped) == set(extra)
    torch.testing.assert_close(tokens_of(model, video), hf_tokens, atol=1e-4, rtol=0)


# ---- refusals --------------------------------------------------------------------------------


class Exploit:
    """Unpickling this would run a shell command (creating a marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.mark.parametrize('zipfile', [True, False])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, zipfile):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'model': {'patch_embed.proj.weight': torch.zeros(1)},
                'args': Exploit(marker)}, path, _use_new_zipfile_serialization=zipfile)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth: refused') as info:
        load_pretrained(ours(), path)
    if zipfile:
        assert 'system' in str(info.value)  # names the global it refused
    assert not marker.exists()


def test_mmengine_runner_checkpoint_is_refused_with_a_way_out(tmp_path):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('test_checkpoint_refusal')
    hub.update_scalar('train/loss', 0.5)
    path = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'backbone.patch_embed.proj.weight': torch.zeros(1)},
                'message_hub': hub.state_dict()}, path)
    with pytest.raises(UnsafeCheckpointError, match='HistoryBuffer.*--trust-pickle'):
        load_pretrained(ours(), path)


def test_wrong_size_checkpoint_names_file_key_and_shapes(tmp_path):
    wide = build_backbone('vit_small', embed_dim=64, depth=2, num_heads=4)
    path = tmp_path / 'vit_wide.pth'
    torch.save(wide.state_dict(), path)
    with pytest.raises(ValueError, match=r"(?s)vit_wide.pth.*'patch_embed.proj.weight' has shape "
                                         r"\(64, 3, 2, 16, 16\) in the checkpoint but "
                                         r"\(48, 3, 2, 16, 16\) in the model.*"
                                         r"likely cause: the checkpoint is a ViT of width 64"):
        load_pretrained(ours(), path)


def test_unknown_or_broken_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_pretrained(ours(), tmp_path / 'nope.pth')
    other = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(1)}, other)
    with pytest.raises(ValueError, match='resnet.pth: not a VideoMAE checkpoint'):
        load_pretrained(ours(), other)
    not_weights = tmp_path / 'mixed.pth'
    torch.save({'state_dict': {'patch_embed.proj.weight': 3}}, not_weights)
    with pytest.raises(ValueError, match=r"mixed.pth: \['state_dict'\]\['patch_embed"):
        load_pretrained(ours(), not_weights)
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'\x00not a checkpoint')
    with pytest.raises((ValueError, UnsafeCheckpointError), match='garbage.pth'):
        load_pretrained(ours(), garbage)
    empty_dir = tmp_path / 'hf_empty'
    empty_dir.mkdir()
    with pytest.raises(FileNotFoundError, match='hf_empty.*save_pretrained'):
        load_pretrained(ours(), empty_dir)
