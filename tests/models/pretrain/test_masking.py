import pytest
import torch

from videomae_det.models.pretrain.masking import build_mask, random_mask, tube_mask


def test_tube_mask_shape_ratio_and_tube_property():
    grid = (8, 14, 14)
    mask = tube_mask(3, grid, 0.9, generator=torch.Generator().manual_seed(0))
    assert mask.shape == (3, 8 * 14 * 14) and mask.dtype == torch.bool
    per_slice = mask.view(3, 8, 14 * 14)
    # exactly round(0.9 * 196) = 176 masked cells in every temporal slice of every sample
    assert (per_slice.sum(-1) == 176).all()
    # tube: every temporal slice repeats the first slice's spatial mask
    assert torch.equal(per_slice, per_slice[:, :1].expand_as(per_slice))
    # samples get different masks
    assert not torch.equal(per_slice[0, 0], per_slice[1, 0])


def test_random_mask_is_not_a_tube():
    grid = (8, 14, 14)
    mask = random_mask(2, grid, 0.9, generator=torch.Generator().manual_seed(0))
    assert (mask.sum(1) == round(0.9 * 8 * 196)).all()
    per_slice = mask.view(2, 8, 196)
    assert not torch.equal(per_slice, per_slice[:, :1].expand_as(per_slice))


@pytest.mark.parametrize('mask_type', ['tube', 'random'])
def test_masks_are_reproducible_under_a_seeded_generator(mask_type):
    a = build_mask(mask_type, 2, (2, 4, 4), 0.75, torch.Generator().manual_seed(7))
    b = build_mask(mask_type, 2, (2, 4, 4), 0.75, torch.Generator().manual_seed(7))
    c = build_mask(mask_type, 2, (2, 4, 4), 0.75, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_bad_ratio_and_type_are_rejected():
    with pytest.raises(ValueError, match='at least one visible'):
        tube_mask(1, (2, 2, 2), 0.99)  # round(0.99 * 4) = 4 of 4 cells
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
        random_mask(1, (2, 2, 2), 1.0)
    with pytest.raises(ValueError, match='unknown mask_type'):
        build_mask('block', 1, (2, 2, 2), 0.5)
