"""ActionDataPreprocessor: uint8 clips -> normalised float batch padded to multiples of 16."""
import pytest
import torch

from videomae_det.models.data_preprocessor import ActionDataPreprocessor
from videomae_det.registry import MODELS
from videomae_det.structures import ActionDataSample


def _clip(h, w, value, t=4):
    return torch.full((3, t, h, w), value, dtype=torch.uint8)


def test_normalise_pad_and_stack():
    pre = ActionDataPreprocessor(mean=(100, 110, 120), std=(10, 20, 40), pad_size_divisor=16)
    samples = [ActionDataSample(), ActionDataSample()]
    out = pre(dict(inputs=[_clip(50, 70, 140), _clip(64, 40, 100)], data_samples=samples))
    x = out['inputs']
    assert x.dtype == torch.float32 and x.shape == (2, 3, 4, 64, 80)  # max 64x70 -> 64x80
    # normalised values inside, zeros (the mean colour) in the bottom/right padding
    assert torch.allclose(x[0, :, :, :50, :70].mean((1, 2, 3)), torch.tensor([4.0, 1.5, 0.5]))
    assert (x[0, :, :, 50:] == 0).all() and (x[0, :, :, :, 70:] == 0).all()
    assert torch.allclose(x[1, :, :, :, :40].mean((1, 2, 3)), torch.tensor([0.0, -0.5, -0.5]))
    assert [s.pad_shape for s in out['data_samples']] == [(64, 80)] * 2


def test_stacked_input_and_exact_multiple():
    pre = ActionDataPreprocessor()
    x = pre(dict(inputs=torch.zeros(2, 3, 8, 32, 48, dtype=torch.uint8)))['inputs']
    assert x.shape == (2, 3, 8, 32, 48)
    assert torch.allclose(x[:, 0], torch.tensor(-123.675 / 58.395))
    assert pre.mean.shape == (3, 1, 1, 1) and pre.std.shape == (3, 1, 1, 1)


def test_no_normalisation_and_registry():
    pre = MODELS.build(dict(type='ActionDataPreprocessor', mean=None, std=None,
                            pad_size_divisor=1))
    x = pre(dict(inputs=[_clip(10, 10, 7)]))['inputs']
    assert x.shape == (1, 3, 4, 10, 10) and (x == 7).all()


def test_bad_inputs():
    pre = ActionDataPreprocessor()
    with pytest.raises(ValueError, match='same T'):
        pre(dict(inputs=[_clip(16, 16, 0, t=4), _clip(16, 16, 0, t=8)]))
    with pytest.raises(ValueError, match=r'\(3, T, H, W\)'):
        pre(dict(inputs=[torch.zeros(4, 16, 16, 3, dtype=torch.uint8)]))


def test_pad_divisor_follows_the_patch_size():
    # unset: the owning model sets it to its backbone's patch size
    pre = ActionDataPreprocessor()
    assert pre.pad_size_divisor is None
    x = pre(dict(inputs=[_clip(50, 70, 0)]))['inputs']
    assert x.shape[-2:] == (50, 70)  # alone, it pads to the batch's largest size only
    pre.fit_to_patch(8)
    assert pre.pad_size_divisor == 8
    assert pre(dict(inputs=[_clip(50, 70, 0)]))['inputs'].shape[-2:] == (56, 72)
    # a stated multiple of the patch is kept; a stated non-multiple is refused by name
    stated = ActionDataPreprocessor(pad_size_divisor=32)
    stated.fit_to_patch(16)
    assert stated.pad_size_divisor == 32
    with pytest.raises(ValueError, match=r'model\.data_preprocessor\.pad_size_divisor=12 .*'
                       r'patch size 8'):
        ActionDataPreprocessor(pad_size_divisor=12).fit_to_patch(8)


def test_crop_to_divisor_drops_the_partial_patch_like_mmaction2():
    pre = ActionDataPreprocessor(mean=(0, 0, 0), std=(1, 1, 1), pad_size_divisor=16,
                                 crop_to_divisor=True)
    clip = torch.arange(50 * 70, dtype=torch.float32).reshape(1, 1, 50, 70).expand(3, 4, 50, 70)
    samples = [ActionDataSample()]
    out = pre(dict(inputs=[clip], data_samples=samples))
    assert out['inputs'].shape == (1, 3, 4, 48, 64)  # 50x70 -> 48x64, not 64x80
    torch.testing.assert_close(out['inputs'][0], clip[:, :, :48, :64])
    assert out['data_samples'][0].pad_shape == (48, 64)
    with pytest.raises(ValueError, match='smaller than one 16-pixel patch'):
        pre(dict(inputs=[_clip(8, 40, 1)]))
