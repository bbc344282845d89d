"""Token masks for masked-video pretraining (VideoMAE, arXiv:2203.12602).

A video of ``T x H x W`` pixels is cut into cubes of ``tubelet x patch x patch``; the token
grid is ``(T', H', W') = (T / tubelet, H / patch, W / patch)`` and tokens are ordered
``(t, h, w)`` row-major, exactly as the backbone's ``forward_features`` orders them.

Mask semantics everywhere in this package: a bool tensor ``(B, T' * H' * W')`` where
**True = masked (hidden from the encoder, to be reconstructed)** and False = visible. This
is the convention of ``VisionTransformer.forward_features(x, mask)`` and of the official
VideoMAE code.

- Tube masking (the paper's default): one random spatial mask of the ``H' x W'`` grid with
  exactly ``round(ratio * H' * W')`` masked cells, repeated at every temporal slice ``t``.
  A masked cube's neighbours in time are masked too, so the model cannot copy a pixel from
  the next frame; this is what makes a 90% ratio learnable rather than trivial.
- Random masking (the comparison): ``round(ratio * T' * H' * W')`` tokens drawn
  independently over the whole space-time grid.

Both give every row the same number of masked tokens (the encoder gathers visible tokens
into a dense ``(B, N_vis, D)`` batch). Masks are drawn on the CPU from ``generator`` (or
torch's global RNG, which mmengine's Runner seeds) and then moved to ``device``, so the
same seed gives the same masks on CPU and CUDA.
"""
from typing import Callable, Dict, Optional, Sequence, Union

import torch

Grid = Sequence[int]  # (T', H', W'): tokens along time, height, width


def _check_ratio(mask_ratio: float, num_cells: int, what: str) -> int:
    """Number of masked cells out of ``num_cells``; at least one cell must stay visible."""
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f'mask_ratio must be in [0, 1); got {mask_ratio}')
    num_masked = int(round(mask_ratio * num_cells))
    if num_masked >= num_cells:
        raise ValueError(
            f'mask_ratio {mask_ratio} masks all {num_cells} {what}; the encoder needs at least '
            'one visible token')
    return num_masked


def _random_subset_mask(batch_size: int, num_cells: int, num_masked: int,
                        generator: Optional[torch.Generator]) -> torch.Tensor:
    """(B, num_cells) bool, exactly ``num_masked`` True per row, uniformly at random."""
    noise = torch.rand(batch_size, num_cells, generator=generator)
    # Rank of each cell's noise: the num_masked smallest become masked.
    ranks = noise.argsort(dim=1).argsort(dim=1)
    return ranks < num_masked


def tube_mask(batch_size: int,
              grid: Grid,
              mask_ratio: float = 0.9,
              generator: Optional[torch.Generator] = None,
              device: Union[str, torch.device, None] = None) -> torch.Tensor:
    """Tube masks: one spatial mask per sample, the same at every temporal slice.

    Args:
        batch_size: B.
        grid: token grid ``(T', H', W')``.
        mask_ratio: fraction of the ``H' * W'`` spatial cells masked, in [0, 1).
        generator: optional CPU ``torch.Generator`` for reproducible masks.
        device: where the returned tensor lives.

    Returns:
        bool (B, T' * H' * W'), True = masked; every row has ``T' * round(ratio * H' * W')``
        masked tokens.
    """
    t, h, w = (int(v) for v in grid)
    num_masked = _check_ratio(mask_ratio, h * w, 'spatial cells')
    spatial = _random_subset_mask(batch_size, h * w, num_masked, generator)  # (B, H'W')
    mask = spatial[:, None, :].expand(batch_size, t, h * w).reshape(batch_size, t * h * w)
    return mask.to(device)


def random_mask(batch_size: int,
                grid: Grid,
                mask_ratio: float = 0.9,
                generator: Optional[torch.Generator] = None,
                device: Union[str, torch.device, None] = None) -> torch.Tensor:
    """Random (space-time independent) masks, the comparison to :func:`tube_mask`.

    Returns:
        bool (B, T' * H' * W'), True = masked; every row has ``round(ratio * T' * H' * W')``
        masked tokens.
    """
    t, h, w = (int(v) for v in grid)
    num_masked = _check_ratio(mask_ratio, t * h * w, 'tokens')
    return _random_subset_mask(batch_size, t * h * w, num_masked, generator).to(device)


MASK_GENERATORS: Dict[str, Callable[..., torch.Tensor]] = {
    'tube': tube_mask,
    'random': random_mask,
}


def build_mask(mask_type: str, batch_size: int, grid: Grid, mask_ratio: float,
               generator: Optional[torch.Generator] = None,
               device: Union[str, torch.device, None] = None) -> torch.Tensor:
    """Dispatch to :func:`tube_mask` or :func:`random_mask` by name ('tube' | 'random')."""
    if mask_type not in MASK_GENERATORS:
        raise ValueError(
            f'unknown mask_type {mask_type!r}; expected one of {sorted(MASK_GENERATORS)}')
    return MASK_GENERATORS[mask_type](batch_size, grid, mask_ratio, generator, device)
