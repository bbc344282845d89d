"""The process-group helpers of the training and testing tools (one gloo process here; the
two-process run is tests/tools/test_dist.py)."""
import pytest
import torch
import torch.distributed as dist

from videomae_det.engine.distributed import init_cpu_process_group, shutdown_process_group


# with a GPU the tools leave the group to mmengine (NCCL), so these run on CPU-only machines
cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason='gloo set-up is for CPU runs')


@pytest.fixture
def torchrun_env(monkeypatch):
    # what torchrun sets for a one-process job; port 0 lets the store pick a free one
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', '0')
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


@cpu_only
def test_shutdown_destroys_the_group_the_tools_started(torchrun_env):
    assert init_cpu_process_group('pytorch') is True
    assert dist.is_initialized() and dist.get_backend() == 'gloo'
    shutdown_process_group()
    assert not dist.is_initialized()


def test_shutdown_without_a_group_does_nothing():
    assert not dist.is_initialized()
    shutdown_process_group()
    assert not dist.is_initialized()


def test_launcher_none_starts_no_group():
    assert init_cpu_process_group('none') is False
    assert not dist.is_initialized()


@cpu_only
def test_unknown_launcher_on_cpu_is_refused(torchrun_env):
    with pytest.raises(ValueError, match='slurm'):
        init_cpu_process_group('slurm')
