import pytest
import torch

from videomae_det.models.backbones.vit import VisionTransformer
from videomae_det.models.pretrain.masking import tube_mask
from videomae_det.models.pretrain.videomae import (VideoMAEPretrainer, normalize_cubes,
                                                   patchify, unpatchify)


def tiny_pretrainer(**kw):
    encoder = dict(type=VisionTransformer, num_frames=4, img_size=32, embed_dim=32, depth=2,
                   num_heads=2)
    args = dict(decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2, mask_ratio=0.75)
    args.update(kw)
    return VideoMAEPretrainer(encoder, **args)


def test_state_dict_keys_follow_the_official_pretraining_layout():
    keys = set(tiny_pretrainer().state_dict())
    for key in ['encoder.patch_embed.proj.weight', 'encoder.blocks.1.attn.qkv.weight',
                'encoder.blocks.0.attn.q_bias', 'encoder.blocks.0.attn.v_bias',
                'encoder.norm.weight', 'encoder_to_decoder.weight', 'mask_token',
                'decoder.blocks.0.attn.qkv.weight', 'decoder.blocks.0.mlp.fc2.bias',
                'decoder.norm.weight', 'decoder.head.weight', 'decoder.head.bias']:
        assert key in keys, key
    assert 'encoder_to_decoder.bias' not in keys
    # fixed position embeddings are never stored, as in the official checkpoints
    assert not any('pos_embed' in k for k in keys)
    assert tiny_pretrainer().decoder.head.out_features == 3 * 2 * 16 * 16


def test_patchify_pixel_order_matches_the_official_rearrange():
    # official: 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c'
    video = torch.randn(1, 3, 4, 32, 48)
    cubes = patchify(video)
    assert cubes.shape == (1, 2 * 2 * 3, 512, 3)
    t, h, w, p0, p1, p2, c = 1, 0, 2, 1, 5, 11, 2
    token = (t * 2 + h) * 3 + w
    pixel = (p0 * 16 + p1) * 16 + p2
    assert cubes[0, token, pixel, c] == video[0, c, t * 2 + p0, h * 16 + p1, w * 16 + p2]
    # the head's flat layout puts the channel fastest
    assert cubes.flatten(2)[0, token, pixel * 3 + c] == cubes[0, token, pixel, c]
    assert torch.equal(unpatchify(cubes, (2, 2, 3)), video)


def test_cube_normalisation_uses_unbiased_std_plus_eps():
    cubes = torch.rand(1, 2, 512, 3)
    out = normalize_cubes(cubes)
    ref = (cubes - cubes.mean(2, keepdim=True)) / (cubes.std(2, keepdim=True) + 1e-6)
    torch.testing.assert_close(out, ref)
    assert torch.allclose(out.mean(2), torch.zeros(1, 2, 3), atol=1e-5)


def test_encoder_receives_only_the_visible_tokens():
    model = tiny_pretrainer(mask_ratio=0.75)
    seen = []
    model.encoder.blocks[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    x = torch.randn(2, 3, 4, 32, 32)
    mask = tube_mask(2, (2, 2, 2), 0.75, torch.Generator().manual_seed(0))
    pred = model(x, mode='tensor', mask=mask)
    # 8 tokens, 3 of 4 spatial cells hidden in each of 2 slices -> 2 visible tokens
    assert seen == [torch.Size([2, 2, 32])]
    assert pred.shape == (2, 6, 1536)


def test_loss_is_mse_over_hidden_cubes_of_the_normalised_target():
    model = tiny_pretrainer()
    x = torch.rand(1, 3, 4, 32, 32) * 255  # identity preprocessor: inputs are 0-255 pixels
    mask = tube_mask(1, (2, 2, 2), 0.75, torch.Generator().manual_seed(1))
    loss = model(x, mode='loss', mask=mask)['loss_rec']
    pred = model(x, mode='tensor', mask=mask)
    target = normalize_cubes(patchify(x / 255.)).flatten(2)[mask].reshape(pred.shape)
    torch.testing.assert_close(loss, ((pred - target) ** 2).mean())
    assert loss.requires_grad


def test_norm_target_false_regresses_the_raw_pixels_of_each_hidden_cube():
    # the official normlize_target=False: the target is the clip itself, back in [0, 1]
    # pixel units (the preprocessor's mean/std undone), cube by cube, with no per-cube norm
    from videomae_det.models.data_preprocessor import ActionDataPreprocessor
    model = tiny_pretrainer(norm_target=False, data_preprocessor=ActionDataPreprocessor())
    pixels = torch.rand(1, 3, 4, 32, 32) * 255
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1, 1)
    x = (pixels - mean) / std  # what the model receives after the preprocessor
    raw = patchify(pixels / 255.).flatten(2)
    torch.testing.assert_close(model.target_cubes(x), raw)
    assert not torch.allclose(raw, normalize_cubes(patchify(pixels / 255.)).flatten(2))
    mask = tube_mask(1, (2, 2, 2), 0.75, torch.Generator().manual_seed(1))
    loss = model(x, mode='loss', mask=mask)['loss_rec']
    pred = model(x, mode='tensor', mask=mask)
    torch.testing.assert_close(loss, ((pred - raw[mask].reshape(pred.shape)) ** 2).mean())
    # the reconstruction shows the prediction itself (no cube statistics borrowed)
    sample = model(x, data_samples=None, mode='predict', mask=mask)[0]
    hidden = patchify(sample.recon[None])[mask].reshape(pred.shape)
    torch.testing.assert_close(hidden, pred.clamp(0, 1))


def test_motion_weight_puts_the_loss_on_the_cubes_that_move():
    # a grey clip with film grain everywhere and one bright square moving right in the
    # top-left 16x16 cell: with alpha = 1 that cell's cubes carry half the weight
    model = tiny_pretrainer(norm_target=False, motion_weight=1.0)
    gen = torch.Generator().manual_seed(0)
    x = 128 + 4 * torch.randn(1, 3, 4, 32, 32, generator=gen)
    for t in range(4):
        x[:, :, t, 2:10, 2 + 2 * t:8 + 2 * t] = 250
    weights = model.cube_weights(x)
    moving = torch.zeros(2, 2, 2, dtype=torch.bool)
    moving[:, 0, 0] = True  # (t, h, w) grid: the square's cell at both temporal slices
    moving = moving.flatten()[None]
    torch.testing.assert_close(weights.mean(), torch.tensor(2.))
    assert weights[moving].min() > 3 * weights[~moving].max()
    # the loss is the weighted mean of the hidden cubes' errors
    mask = torch.tensor([[True, False, True, True, True, False, True, True]])
    loss = model(x, mode='loss', mask=mask)['loss_rec']
    pred = model(x, mode='tensor', mask=mask)
    per_cube = ((pred - model.target_cubes(x)[mask].reshape(pred.shape)) ** 2).mean(-1)
    w = weights[mask].reshape(per_cube.shape)
    torch.testing.assert_close(loss, (w * per_cube).sum() / w.sum())
    assert not torch.allclose(loss, per_cube.mean())
    # a still clip: every cube weighs 1, the plain MSE
    still = x[:, :, :1].expand_as(x).clone()
    torch.testing.assert_close(model.cube_weights(still), torch.ones(1, 8))
    with pytest.raises(ValueError, match='motion_weight'):
        tiny_pretrainer(motion_weight=-1)


def test_predict_returns_mask_and_reconstruction_with_visible_cubes_copied():
    model = tiny_pretrainer()
    x = torch.rand(2, 3, 4, 32, 32) * 255
    samples = model(x, mode='predict')
    assert len(samples) == 2
    s = samples[0]
    assert s.mask.shape == (8,) and s.mask.sum() == 6
    assert s.recon.shape == (3, 4, 32, 32)
    visible = ~s.mask
    orig = patchify(x[:1] / 255.)[0][visible]
    rec = patchify(s.recon[None])[0][visible]
    torch.testing.assert_close(rec, orig)


def test_bad_mask_settings_are_rejected():
    with pytest.raises(ValueError, match='mask_type'):
        tiny_pretrainer(mask_type='block')
    with pytest.raises(ValueError, match='mask_ratio'):
        tiny_pretrainer(mask_ratio=1.0)


def test_encoder_init_backbone_keeps_the_detector_backbones_random_init():
    def qkv_std(model):
        return model.encoder.blocks[0].attn.qkv.weight.std().item()

    encoder = dict(type=VisionTransformer, num_frames=4, img_size=32, embed_dim=192, depth=1,
                   num_heads=3)
    # xavier-uniform on a 192 -> 576 Linear: std sqrt(2 / (192 + 576)) ~ 0.051
    xavier = VideoMAEPretrainer(encoder, decoder_embed_dim=96, decoder_depth=1,
                                decoder_num_heads=3)
    backbone = VideoMAEPretrainer(encoder, decoder_embed_dim=96, decoder_depth=1,
                                  decoder_num_heads=3, encoder_init='backbone')
    assert abs(qkv_std(xavier) - 0.051) < 0.003
    assert abs(qkv_std(backbone) - 0.02) < 0.002  # trunc-normal 0.02, as VisionTransformer
    # the decoder is xavier either way
    assert abs(backbone.decoder.blocks[0].attn.qkv.weight.std().item()
               - (2 / (96 + 288)) ** .5) < 0.004
    with pytest.raises(ValueError, match='encoder_init'):
        tiny_pretrainer(encoder_init='kaiming')


def test_loss_falls_on_a_tiny_overfit_run():
    torch.manual_seed(0)
    model = tiny_pretrainer(mask_ratio=0.5)
    # one smooth clip: learnable structure, so reconstruction error must fall
    t = torch.linspace(0, 1, 32)
    clip = (torch.sin(6 * t)[None, :] + torch.cos(4 * t)[:, None])[None, None, None]
    x = (clip.expand(1, 3, 4, 32, 32) + torch.arange(3.).view(1, 3, 1, 1, 1)) * 60 + 60
    optim = torch.optim.AdamW(model.parameters(), lr=5e-3)
    mask = tube_mask(1, (2, 2, 2), 0.5, torch.Generator().manual_seed(0))
    losses = []
    for _ in range(40):
        loss = model(x, mode='loss', mask=mask)['loss_rec']
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.2 * sum(losses[:5]) / 5, losses


def test_official_pretraining_file_loads_into_the_pretrainer(tmp_path):
    import argparse

    from videomae_det.models.weights import load_pretraining_model

    source = tiny_pretrainer()
    # the official layout: {'model': state dict, 'args': Namespace}, DDP prefix included
    path = tmp_path / 'checkpoint-799.pth'
    state = {f'module.{k}': v for k, v in source.state_dict().items()}
    torch.save({'model': state, 'args': argparse.Namespace(mask_ratio=0.9)}, path)
    target = tiny_pretrainer()
    missing, unexpected = load_pretraining_model(target, str(path))
    assert missing == [] and unexpected == []
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_a_checkpoint_without_decoder_is_refused(tmp_path):
    from videomae_det.models.weights import load_pretraining_model

    path = tmp_path / 'backbone.pth'
    encoder_only = {f'encoder.{k}': v for k, v in tiny_pretrainer().encoder.state_dict().items()}
    torch.save({'state_dict': encoder_only}, path)
    with pytest.raises(ValueError, match='not a VideoMAE pretraining checkpoint'):
        load_pretraining_model(tiny_pretrainer(), str(path))


def test_mask_ratio_zero_reconstructs_every_cube():
    # the all-token peer of benchmarks/pretrain_speed.py
    model = tiny_pretrainer(mask_ratio=0.0)
    x = torch.rand(1, 3, 4, 32, 32) * 255
    pred = model(x, mode='tensor')
    assert pred.shape == (1, 8, 1536)
    loss = model(x, mode='loss')['loss_rec']
    target = normalize_cubes(patchify(x / 255.)).flatten(2)
    torch.testing.assert_close(loss, ((pred - target) ** 2).mean(), rtol=1e-4, atol=1e-5)


def test_matches_huggingface_videomae_for_pretraining(tmp_path):
    """An independent implementation of the whole pipeline: same weights, same mask ->
    same predictions and the same loss (pixel order, decoder positions, target)."""
    transformers = pytest.importorskip('transformers')
    from videomae_det.models.data_preprocessor import ActionDataPreprocessor
    from videomae_det.models.weights import load_pretraining_model

    config = transformers.VideoMAEConfig(
        image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=32,
        num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, qkv_bias=True,
        use_mean_pooling=False, decoder_num_attention_heads=2, decoder_hidden_size=16,
        decoder_num_hidden_layers=1, decoder_intermediate_size=64, norm_pix_loss=True,
        layer_norm_eps=1e-6, hidden_act='gelu')
    torch.manual_seed(0)
    reference = transformers.VideoMAEForPreTraining(config).eval()
    with torch.no_grad():  # non-trivial biases everywhere
        for p in reference.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    reference.save_pretrained(tmp_path / 'hf')

    ours = tiny_pretrainer(data_preprocessor=ActionDataPreprocessor()).eval()
    missing, unexpected = load_pretraining_model(ours, str(tmp_path / 'hf'))
    assert missing == [] and unexpected == []

    x = torch.randn(2, 3, 4, 32, 32)  # normalised pixels, as both models take them
    mask = tube_mask(2, (2, 2, 2), 0.5, torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = reference(pixel_values=x.permute(0, 2, 1, 3, 4), bool_masked_pos=mask)
        pred = ours(x, mode='tensor', mask=mask)
        loss = ours(x, mode='loss', mask=mask)['loss_rec']
    torch.testing.assert_close(pred, out.logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(loss, out.loss, rtol=1e-4, atol=1e-5)


def test_pretrained_argument_loads_at_init_weights(tmp_path):
    source = tiny_pretrainer()
    path = tmp_path / 'epoch_3.pth'
    torch.save({'state_dict': source.state_dict(), 'meta': {}}, path)
    model = tiny_pretrainer(pretrained=str(path))
    assert not torch.equal(model.decoder.head.weight, source.decoder.head.weight)
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
