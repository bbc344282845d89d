"""Batch preparation on the model's device: uint8 clips -> normalised, padded float batch."""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from videomae_det.registry import MODELS


@MODELS.register_module()
class ActionDataPreprocessor(BaseDataPreprocessor):
    """Normalise, pad and stack video clips.

    Input ``data``: ``dict(inputs=..., data_samples=...)`` where ``inputs`` is a list of
    uint8 (or float) tensors (3, T, H_i, W_i) RGB (as ``PackActionInputs`` makes them and
    ``pseudo_collate`` lists them) or one stacked tensor (B, 3, T, H, W).

    Output: ``dict(inputs=float (B, 3, T, H, W), data_samples=...)`` where each clip was
    moved to the device *before* conversion (the host copies stay uint8, 4× smaller), then
    ``(x − mean) / std`` with ``mean``/``std`` in 0-255 RGB units, and padded at the bottom
    and right with ``pad_value`` (in normalised units; 0 = the mean colour) to the batch's
    largest H and W rounded up to multiples of ``pad_size_divisor``. Boxes are unaffected:
    padding is bottom/right only. Each data sample gets ``pad_shape`` (H, W) metainfo.

    ``pad_size_divisor=None`` (the default) lets the model that owns the preprocessor set it
    to its backbone's patch size (:meth:`fit_to_patch`), so a config never restates it; a
    preprocessor used on its own with None pads to the batch's largest size only.

    ``crop_to_divisor=True`` crops the batch at the bottom/right *down* to a multiple of the
    divisor instead of padding up: what mmaction2's ViT does implicitly (its strided patch
    convolution drops a partial patch row/column), so its released detectors see the same
    pixels (they test one clip per batch).

    Attributes ``mean``/``std``: float buffers (3, 1, 1, 1) (0-255 units); absent when
    constructed with ``mean=None`` (no normalisation).
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = (123.675, 116.28, 103.53),
                 std: Optional[Sequence[float]] = (58.395, 57.12, 57.375),
                 pad_size_divisor: Optional[int] = None,
                 pad_value: float = 0.0,
                 crop_to_divisor: bool = False,
                 non_blocking: bool = False):
        super().__init__(non_blocking=non_blocking)
        if (mean is None) != (std is None):
            raise ValueError('give both mean and std, or neither')
        self._normalise = mean is not None
        if self._normalise:
            self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1, 1),
                                 persistent=False)
            self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1, 1),
                                 persistent=False)
        self.pad_size_divisor = None if pad_size_divisor is None else int(pad_size_divisor)
        self.pad_value = float(pad_value)
        self.crop_to_divisor = bool(crop_to_divisor)

    def fit_to_patch(self, patch_size: int, key: str = 'model.data_preprocessor') -> None:
        """Pad to whole patches of the backbone: an unset divisor becomes ``patch_size``; a
        stated one must be a multiple of it (``key`` names it in the error)."""
        if self.pad_size_divisor is None:
            self.pad_size_divisor = int(patch_size)
        elif self.pad_size_divisor % patch_size:
            raise ValueError(
                f'{key}.pad_size_divisor={self.pad_size_divisor} is not a multiple of the '
                f"backbone's patch size {patch_size}: padded clips would not tile into whole "
                f'patches. Leave it out (it is derived from the patch size).')

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)  # to the device, still uint8
        inputs: Union[torch.Tensor, Sequence[torch.Tensor]] = data['inputs']
        if isinstance(inputs, torch.Tensor):
            if inputs.dim() != 5:
                raise ValueError(
                    f'stacked inputs must be (B, 3, T, H, W); got {tuple(inputs.shape)}')
            inputs = list(inputs)
        if len(inputs) == 0:
            raise ValueError('empty batch')
        clips = []
        for x in inputs:
            if x.dim() != 4 or x.shape[0] != 3:
                raise ValueError(f'each clip must be (3, T, H, W); got {tuple(x.shape)}')
            x = x.float()
            if self._normalise:
                x = (x - self.mean) / self.std
            clips.append(x)
        t = clips[0].shape[1]
        if any(c.shape[1] != t for c in clips):
            raise ValueError(f'clips in a batch need the same T; got {[c.shape[1] for c in clips]}')
        div = self.pad_size_divisor or 1
        max_h = max(c.shape[2] for c in clips)
        max_w = max(c.shape[3] for c in clips)
        if self.crop_to_divisor:
            pad_h, pad_w = max_h // div * div, max_w // div * div
            if not (pad_h and pad_w):
                raise ValueError(f'clips of {max_h}x{max_w} are smaller than one '
                                 f'{div}-pixel patch')
        else:
            pad_h = -(-max_h // div) * div if div > 1 else max_h
            pad_w = -(-max_w // div) * div if div > 1 else max_w
        batch = torch.stack([
            F.pad(c, (0, max_w - c.shape[3], 0, max_h - c.shape[2]), value=self.pad_value)
            [..., :pad_h, :pad_w] if self.crop_to_divisor else
            F.pad(c, (0, pad_w - c.shape[3], 0, pad_h - c.shape[2]), value=self.pad_value)
            for c in clips])
        samples = data.get('data_samples')
        if samples is not None:
            for s in samples:
                s.set_metainfo(dict(pad_shape=(pad_h, pad_w)))
        return dict(inputs=batch, data_samples=samples)
