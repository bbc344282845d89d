"""VideoMAE ViT backbone: shapes, token order, position embedding, masking, checkpointing."""
import pytest
import torch
from transformers.models.videomae.modeling_videomae import get_sinusoid_encoding_table

from videomae_det.models import VisionTransformer, build_backbone
from videomae_det.models.backbones.vit import drop_path, sinusoid_table
from videomae_det.registry import MODELS

TINY = dict(embed_dim=48, depth=2, num_heads=3)


def tiny(**kw) -> VisionTransformer:
    torch.manual_seed(0)
    return build_backbone('vit_small', num_frames=4, img_size=32, **{**TINY, **kw}).eval()


def test_feature_map_shape_and_contract_attributes():
    model = tiny()
    x = torch.randn(2, 3, 4, 32, 48)
    feat = model(x)
    assert feat.shape == (2, 48, 2, 2, 3)
    assert model.forward_features(x).shape == (2, 12, 48)
    assert (model.embed_dim, model.patch_size, model.tubelet_size, model.num_layers) == \
        (48, 16, 2, 2)


def test_tokens_are_ordered_t_h_w_and_map_is_their_reshape():
    model = tiny(depth=0)  # tokens = norm(tubelet embedding + position): easy to locate
    x = torch.randn(1, 3, 4, 32, 48)
    with torch.no_grad():
        tokens = model.forward_features(x)
        feat = model(x)
        t, i, j = 1, 0, 2  # a tubelet: frames 2-3, rows 0-15, columns 32-47
        n = (t * 2 + i) * 3 + j
        cube = x[:, :, 2 * t:2 * t + 2, 16 * i:16 * i + 16, 16 * j:16 * j + 16]
        expected = model.patch_embed(cube).flatten(1) + model.pos_embed_for(2, 2, 3)[0, n]
        expected = model.norm(expected)
    torch.testing.assert_close(tokens[0, n], expected[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feat[0, :, t, i, j], tokens[0, n])


def test_variant_sizes_and_registry():
    sizes = {}
    for name in ('vit_small', 'vit_base', 'vit_large', 'vit_huge'):
        with torch.device('meta'):
            m = build_backbone(name)
        sizes[name] = (m.embed_dim, m.num_layers, m.blocks[0].attn.num_heads,
                       m.norm.eps, m.blocks[0].mlp.fc1.out_features // m.embed_dim)
    assert sizes == {'vit_small': (384, 12, 6, 1e-6, 4), 'vit_base': (768, 12, 12, 1e-6, 4),
                     'vit_large': (1024, 24, 16, 1e-6, 4),
                     'vit_huge': (1280, 32, 16, 1e-6, 4)}
    with torch.device('meta'):
        n_params = sum(p.numel() for p in build_backbone('vit_base').parameters())
    # Conv3d 3*2*16*16*768 + 768; per block qkv 768*2304, q/v bias 2*768, proj 768*768
    # + 768, two LN 4*768, MLP 768*3072 + 3072 + 3072*768 + 768; final LN 2*768
    per_block = 768 * 2304 + 2 * 768 + 768 * 768 + 768 + 4 * 768 + 2 * 768 * 3072 + 3072 + 768
    assert n_params == 3 * 2 * 16 * 16 * 768 + 768 + 12 * per_block + 2 * 768 == 86_227_200
    model = MODELS.build(dict(type='VisionTransformer', **TINY))
    assert isinstance(model, VisionTransformer) and model.num_layers == 2
    with pytest.raises(ValueError, match='unknown backbone'):
        build_backbone('vit_giant')


def test_position_embedding_is_the_official_table_and_not_stored():
    model = build_backbone('vit_small', **TINY)
    official = get_sinusoid_encoding_table(8 * 14 * 14, 48)  # the reference numpy table
    assert torch.equal(model.pos_embed, official)
    assert torch.equal(model.pos_embed_for(8, 14, 14), official)
    assert 'pos_embed' not in model.state_dict()
    assert torch.equal(sinusoid_table(1568, 384), get_sinusoid_encoding_table(1568, 384))


def test_position_embedding_resize_per_temporal_slice():
    model = build_backbone('vit_small', **TINY)
    # more or fewer slices: the same 1-D table, longer or shorter
    assert torch.equal(model.pos_embed_for(4, 14, 14), model.pos_embed[:, :4 * 196])
    torch.testing.assert_close(model.pos_embed_for(10, 14, 14), sinusoid_table(1960, 48))
    # other spatial size: each slice resized on its own (bicubic, align_corners=False)
    resized = model.pos_embed_for(8, 7, 10).reshape(8, 7, 10, 48)
    slice3 = model.pos_embed.reshape(8, 14, 14, 48)[3].permute(2, 0, 1)[None]
    expected = torch.nn.functional.interpolate(slice3, size=(7, 10), mode='bicubic',
                                               align_corners=False)[0].permute(1, 2, 0)
    torch.testing.assert_close(resized[3], expected)


def test_mask_true_means_hidden():
    model = tiny()
    x = torch.randn(2, 3, 4, 32, 48)
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[0, [0, 4, 7]] = True
    mask[1, [1, 2, 11]] = True
    with torch.no_grad():
        visible = model.forward_features(x, mask)
        assert visible.shape == (2, 9, 48)
        # pixels of hidden tubelets (token 0 of sample 0: frames 0-1, rows/cols 0-15)
        # cannot reach the output; those of a visible one (token 1) do
        x2 = x.clone()
        x2[0, :, :2, :16, :16] += 5
        torch.testing.assert_close(model.forward_features(x2, mask), visible)
        x3 = x.clone()
        x3[0, :, :2, :16, 16:32] += 5
        assert not torch.allclose(model.forward_features(x3, mask)[0], visible[0])
        # nothing hidden: same as no mask
        torch.testing.assert_close(
            model.forward_features(x, torch.zeros(2, 12, dtype=torch.bool)),
            model.forward_features(x))
    uneven = torch.zeros(2, 12, dtype=torch.bool)
    uneven[0, 0] = True
    with pytest.raises(ValueError, match='same number'):
        model.forward_features(x, uneven)
    with pytest.raises(ValueError, match='bool of shape'):
        model.forward_features(x, torch.zeros(2, 11, dtype=torch.bool))


def test_bad_input_size_is_one_clear_error():
    with pytest.raises(ValueError, match='multiples of 2 x 16 x 16'):
        tiny()(torch.randn(1, 3, 3, 32, 32))
    with pytest.raises(ValueError, match=r'\(B, 3, T, H, W\)'):
        tiny()(torch.randn(3, 4, 32, 32))


def test_sdpa_and_plain_attention_agree():
    model = tiny()
    x = torch.randn(1, 3, 4, 32, 48)
    with torch.no_grad():
        fused = model.forward_features(x)
        for blk in model.blocks:
            blk.attn.fused_attn = False
        plain = model.forward_features(x)
    torch.testing.assert_close(fused, plain, atol=1e-5, rtol=1e-5)


def test_activation_checkpointing_gives_the_same_gradients():
    x = torch.randn(2, 3, 4, 32, 32)
    grads = []
    for use_checkpoint in (False, True):
        model = tiny().train()
        model.set_grad_checkpointing(use_checkpoint)
        model(x).square().mean().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], msg=name)


def test_drop_path_drops_whole_samples_in_training_only():
    torch.manual_seed(0)
    x = torch.ones(1000, 3, 4)
    out = drop_path(x, 0.25, training=True)
    per_sample = out.flatten(1)
    kept = per_sample[:, 0] > 0
    assert torch.all(per_sample[kept] == 1 / 0.75) and torch.all(per_sample[~kept] == 0)
    assert 0.2 < (~kept).float().mean() < 0.3
    assert torch.equal(drop_path(x, 0.25, training=False), x)
    model = tiny(drop_path_rate=0.2)
    assert [blk.drop_path.drop_prob for blk in model.blocks[1:]] == pytest.approx([0.2])


def test_no_weight_decay_and_layer_ids():
    model = tiny()
    assert model.no_weight_decay() == {'pos_embed'}
    assert model.get_layer_id('patch_embed.proj.weight') == 0
    assert model.get_layer_id('blocks.1.attn.qkv.weight') == 2
    assert model.get_layer_id('norm.weight') == 3


def test_init_weights_loads_pretrained(tmp_path):
    source = tiny()
    path = tmp_path / 'w.pth'
    torch.save(source.state_dict(), path)
    model = tiny(pretrained=str(path))
    torch.manual_seed(1)
    model.apply(lambda m: torch.nn.init.normal_(m.weight) if isinstance(m, torch.nn.Linear)
                else None)
    model.init_weights()
    for (name, a), b in zip(model.state_dict().items(), source.state_dict().values()):
        assert torch.equal(a, b), name


def test_other_spatial_size_matches_mmaction2_resize():
    """mmaction2 (like the VideoMAE detection code) resizes the table per temporal slice
    with bicubic interpolation; the same weights must give the same tokens."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[3] / 'benchmarks' / 'backbone_speed.py'
    spec = importlib.util.spec_from_file_location('backbone_speed', path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ours = build_backbone('vit_small', **TINY).eval()  # table defined for 16x224x224
    theirs = bench.load_mmaction2_vit_class()(
        embed_dims=48, depth=2, num_heads=3, use_mean_pooling=False,
        return_feat_map=True).eval()
    state = bench.to_mmaction2_keys(ours.state_dict())
    state['pos_embed'] = theirs.pos_embed
    theirs.load_state_dict(state)
    x = torch.randn(1, 3, 16, 96, 128)  # 8 slices of 6x8 instead of 14x14
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-4, rtol=0)
