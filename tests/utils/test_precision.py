import platform

import pytest
import torch

from videomae_det.utils import precision

AVX2_ONLY = 'processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\n'
SAPPHIRE = 'processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n'
GRAVITON3 = 'processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n'


@pytest.fixture
def cpuinfo(tmp_path):
    def write(text):
        path = tmp_path / 'cpuinfo'
        path.write_text(text)
        return str(path)
    return write


@pytest.mark.skipif(platform.system() != 'Linux', reason='cpuinfo flags are Linux only')
@pytest.mark.parametrize('text,native', [(AVX2_ONLY, False), (SAPPHIRE, True),
                                         (GRAVITON3, True)])
def test_native_bf16_from_cpu_flags(cpuinfo, text, native):
    assert precision.native_bf16_cpu(cpuinfo(text)) is native


def test_missing_cpuinfo_means_no_flags(tmp_path):
    assert precision.cpu_flags(str(tmp_path / 'absent')) == frozenset()
    assert precision.native_bf16_cpu(str(tmp_path / 'absent')) is False


@pytest.mark.parametrize('native,expected', [(True, 'bf16'), (False, 'fp32')])
def test_auto_picks_bf16_only_on_native_cpus(monkeypatch, native, expected):
    monkeypatch.setattr(precision, 'native_bf16_cpu', lambda: native)
    assert precision.resolve_precision('auto', 'cpu') == expected
    # an explicit choice is kept either way
    assert precision.resolve_precision('bf16', 'cpu') == 'bf16'
    assert precision.resolve_precision('fp32', 'cpu') == 'fp32'


@pytest.mark.parametrize('native', [True, False])
def test_emulated_bf16_is_warned_about_only_where_it_is_slow(monkeypatch, native):
    monkeypatch.setattr(precision, 'native_bf16_cpu', lambda: native)
    warning = precision.emulated_bf16_warning('bf16', 'cpu')
    assert (warning is not None) == (not native)
    if warning:
        assert warning.startswith('warning: bf16 on this CPU is emulated') and 'auto' in warning
    assert precision.emulated_bf16_warning('fp32', 'cpu') is None
    assert precision.emulated_bf16_warning('bf16', 'cuda') is None


def test_default_device_is_cuda_only_when_available(monkeypatch):
    for available, device in ((True, 'cuda'), (False, 'cpu')):
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: available)
        assert precision.default_device() == device


def test_unknown_precision_is_named():
    with pytest.raises(ValueError, match="fp32, bf16, auto; got 'fp16'"):
        precision.resolve_precision('fp16', 'cpu')


def test_autocast_runs_matmuls_in_the_chosen_precision():
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(2, 8)
    with precision.autocast('bf16', 'cpu') as used:
        assert used == 'bf16'
        assert layer(x).dtype == torch.bfloat16
    with precision.autocast('fp32', 'cpu') as used:
        assert used == 'fp32'
        assert layer(x).dtype == torch.float32
    assert layer.weight.dtype == torch.float32


def test_in_precision_survives_an_inner_disabled_autocast():
    """mmengine's test loop wraps each step in ``autocast(enabled=False)``; the step must
    still run in bf16."""
    layer = torch.nn.Linear(8, 4)
    step = precision.in_precision(lambda x: layer(x), 'bf16', 'cpu')
    with torch.autocast('cpu', enabled=False):
        assert step(torch.randn(2, 8)).dtype == torch.bfloat16
