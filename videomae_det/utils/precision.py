"""Inference precision: ``fp32``, ``bf16`` (bfloat16 autocast) or ``auto``.

bfloat16 keeps float32's exponent range, so a float32-trained detector runs under
``torch.autocast(dtype=torch.bfloat16)`` without rescaling; weights stay float32 and
matrix products run in bfloat16. It only pays where the hardware multiplies bfloat16
natively: on CPUs with AVX512-BF16 or AMX (x86) or the BF16 extension (ARM); on others
PyTorch emulates it and bf16 is *slower* than fp32. ``auto`` therefore picks bf16 only on
a CUDA device that supports it or on a CPU that reports native bf16, else fp32.
"""
import contextlib
import functools
import platform
from typing import Callable, Iterator, Optional, Union

import torch

PRECISIONS = ('fp32', 'bf16', 'auto')

# /proc/cpuinfo flags of native bfloat16 arithmetic (x86: AVX512-BF16 dot products, AMX
# tiles; aarch64: the BF16 extension)
_BF16_CPU_FLAGS = frozenset({'avx512_bf16', 'amx_bf16', 'bf16'})


def cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> frozenset:
    """The feature flags the first CPU lists in ``cpuinfo`` (empty where there is none)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() in ('flags', 'Features'):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def native_bf16_cpu(cpuinfo: str = '/proc/cpuinfo') -> bool:
    """Whether this CPU multiplies bfloat16 natively (so bf16 autocast can beat fp32).

    Linux: from ``cpuinfo`` flags. macOS on Apple silicon from M2 on has BF16, but PyTorch's
    CPU kernels do not use it, so it counts as not native.
    """
    if platform.system() != 'Linux':
        return False
    return bool(cpu_flags(cpuinfo) & _BF16_CPU_FLAGS)


def default_device() -> str:
    """Where the tools run the model unless told otherwise: ``'cuda'`` when a GPU is
    available, else ``'cpu'``."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def resolve_precision(precision: str, device: Union[str, torch.device]) -> str:
    """``'fp32'``/``'bf16'``/``'auto'`` on ``device`` -> ``'fp32'`` or ``'bf16'``.

    An explicit choice is kept (bf16 without native support is correct, only slow).
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {", ".join(PRECISIONS)}; got {precision!r}')
    if precision != 'auto':
        return precision
    device = torch.device(device)
    if device.type == 'cuda':
        return 'bf16' if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 'fp32'
    if device.type == 'cpu':
        return 'bf16' if native_bf16_cpu() else 'fp32'
    return 'fp32'


def emulated_bf16_warning(used: str, device: Union[str, torch.device]) -> Optional[str]:
    """A warning line when ``used`` is bf16 on a CPU without native bf16 (there PyTorch
    converts around float32 arithmetic: correct, but several times slower than fp32), else
    None."""
    if used != 'bf16' or torch.device(device).type != 'cpu' or native_bf16_cpu():
        return None
    return ('warning: bf16 on this CPU is emulated (no AVX512-BF16/AMX/BF16 flag): results '
            'are right but several times slower than fp32 (a ViT-B step measured 7x slower); '
            '--precision auto picks fp32 here')


@contextlib.contextmanager
def autocast(precision: str, device: Union[str, torch.device, None] = None) -> Iterator[str]:
    """Run the block in ``precision`` (``auto`` resolved for ``device``); yields the
    precision used. ``fp32`` is a no-op context."""
    device = torch.device(device if device is not None else 'cpu')
    used = resolve_precision(precision, device)
    if used == 'bf16':
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield used
    else:
        yield used


def in_precision(fn: Callable, precision: str, device: Union[str, torch.device]) -> Callable:
    """``fn`` running under :func:`autocast` at each call.

    For a model's ``test_step``: mmengine's test loop enters its own (disabled) autocast
    around the step, which would switch off an autocast opened around the whole loop.
    """
    @functools.wraps(fn)
    def call(*args, **kwargs):
        with autocast(precision, device):
            return fn(*args, **kwargs)
    return call


def describe(device: Optional[Union[str, torch.device]] = None) -> str:
    """One line for logs and benchmark tables: the device and its bf16 support."""
    device = torch.device(device if device is not None else 'cpu')
    if device.type == 'cuda':
        ok = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return f'{torch.cuda.get_device_name(device)}: bf16 {"native" if ok else "unsupported"}'
    flags = cpu_flags()
    native = sorted(flags & _BF16_CPU_FLAGS)
    simd = 'AVX512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else platform.machine()
    return (f'CPU {simd}, bf16 ' + (f'native ({", ".join(native)})' if native_bf16_cpu()
                                     else 'emulated (no AVX512-BF16/AMX/BF16 flag)'))
