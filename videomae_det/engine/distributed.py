"""Distributed training that runs the same on GPUs (NCCL) and on CPUs (gloo).

mmengine 0.10.7 assumes CUDA under ``--launcher pytorch``: its process-group set-up calls
``torch.cuda.set_device`` and its DDP wrapper passes ``device_ids=[LOCAL_RANK]``, both of
which fail on a CPU-only machine. These two small pieces keep torchrun training
device-agnostic (and make the CPU multi-process test possible).
"""
import os

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class DeviceAgnosticDDP(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` for a module on the CPU.

    On CUDA it is exactly the parent (one device per process, ``device_ids=[LOCAL_RANK]``).
    """

    def __init__(self, module, device_ids=None, **kwargs) -> None:
        if next(module.parameters()).device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def init_cpu_process_group(launcher: str) -> bool:
    """Start a gloo process group from torchrun's environment when there is no GPU.

    Returns True if it did. With CUDA available (or ``launcher == 'none'``, or a group
    already running) it does nothing and mmengine's Runner sets up NCCL as configured.
    """
    if launcher == 'none' or torch.cuda.is_available() or dist.is_initialized():
        return False
    if launcher != 'pytorch':
        raise ValueError(f'CPU training supports --launcher none|pytorch, got {launcher!r}')
    dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']))
    return True


def shutdown_process_group() -> None:
    """Destroy the default process group, if any, before the interpreter exits.

    Whoever started it (``init_cpu_process_group`` or mmengine's Runner), a group left for
    interpreter teardown can take a process down with SIGABRT ("terminate called without
    an active exception"): gloo's worker threads still hold work that needs the GIL while
    Python is being finalised. A run that finished cleanly must not exit non-zero, so the
    training and testing tools call this when they are done.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # no rank tears its side down while another still talks to it
        dist.destroy_process_group()
