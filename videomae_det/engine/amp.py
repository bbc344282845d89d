"""Mixed precision on CPU-only machines: bfloat16 autocast through an optimizer wrapper.

mmengine's ``AmpOptimWrapper`` (float16 autocast + dynamic loss scaling) refuses to run
without a GPU. ``tools/train.py --amp`` uses it on CUDA and :class:`CPUAmpOptimWrapper`
otherwise, so the flag means the same thing everywhere: lower-precision activations.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast('cpu', bfloat16)``.

    bfloat16 keeps float32's exponent range, so no loss scaling is needed; parameters,
    gradients and optimizer states stay float32.
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield
