"""Train an action detector from a config with mmengine's Runner.

    python tools/train.py configs/ava/vit_b.py
    python tools/train.py configs/mini_ava/vit_tiny.py --work-dir work_dirs/mini --amp
    python tools/train.py CONFIG --precision auto      # bf16 where the CPU/GPU has it natively
    python tools/train.py CONFIG --resume              # latest checkpoint of the work dir
    python tools/train.py CONFIG --resume work_dirs/x/epoch_3.pth
    torchrun --nproc-per-node 8 tools/train.py CONFIG --launcher pytorch
                                                       # or tools/dist_train.sh CONFIG 8

The VideoMAE checkpoint the backbone starts from is the config's ``pretrained`` variable
(``model.backbone.pretrained``), loaded through ``load_pretrained`` (weights only, key
report). ``load_from`` is for detector checkpoints (ours or a released one, to fine-tune a
trained detector); it must fit the model exactly (exit 2 with the key report otherwise)
unless ``--cfg-options partial_load=True``.

Before anything is built, the data the config names (annotation files, clip folder,
proposal file, label map) and the VideoMAE checkpoint are checked; a missing one stops the
tool with one message and exit code 2. So does a work dir another run is training into
(``engine/work_dir.py``: a lock the kernel releases when that run dies), and ``--resume``
when the work dir holds nothing to resume.
"""
import argparse
import contextlib
import os
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction

from videomae_det.engine.config_checks import (ConfigError, check_class_sets, check_data_paths,
                                               check_pretrained,
                                               enable_amp, load_config,
                                               set_training_precision)
from videomae_det.engine.distributed import init_cpu_process_group, shutdown_process_group
from videomae_det.engine.runner import DetectorRunner
from videomae_det.engine.work_dir import WorkDirLock, find_latest_checkpoint
from videomae_det.utils import cli
from videomae_det.utils.precision import PRECISIONS, default_device, emulated_bf16_warning


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description='Train an AVA action detector')
    parser.add_argument('config', help='config file (configs/ava/*.py, configs/mini_ava/*.py)')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: the config\'s work_dir, else work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume from CKPT, or without a path from the latest checkpoint '
                        'of the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed-precision training: float16 on CUDA, bfloat16 on a CPU')
    parser.add_argument('--precision', choices=PRECISIONS, default='fp32',
                        help='fp32 (default); bf16: bfloat16 autocast (weights and optimizer '
                        'states stay float32); auto: bf16 where the device multiplies '
                        'bfloat16 natively (CPUs with AVX512-BF16/AMX, recent GPUs), else fp32')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE', help='override config entries, e.g. '
                        'train_dataloader.batch_size=2 model.backbone.pretrained=None')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help="'pytorch' under torchrun (multi-GPU / multi-node)")
    # torch.distributed.launch passes --local-rank; torchrun uses the LOCAL_RANK variable
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    """Config file + command line -> the config the Runner is built from."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    name = osp.splitext(osp.basename(args.config))[0]
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join('work_dirs', name)
    if args.amp and args.precision != 'fp32':
        raise cli.UsageError(f'--amp and --precision {args.precision}: give one of them '
                             f'(--amp is float16 on CUDA, bfloat16 on a CPU)')
    if args.amp:
        used = enable_amp(cfg)
    else:
        used = set_training_precision(cfg, args.precision)
        if args.precision == 'auto':
            print(f'--precision auto: training in {used}', file=sys.stderr)
    warning = emulated_bf16_warning(used, default_device())
    if warning:
        print(warning, file=sys.stderr)
    if args.resume is not None:
        cfg.resume = True
        if args.resume == 'auto':
            cfg.load_from = find_latest_checkpoint(cfg.work_dir)
            if cfg.load_from is None:
                raise cli.UsageError(
                    f'--resume: nothing to resume in {cfg.work_dir} (no last_checkpoint '
                    f'file); leave out --resume to start from scratch')
        else:
            cfg.load_from = args.resume
        if not osp.isfile(cfg.load_from):
            raise ConfigError(f'--resume: checkpoint not found: {cfg.load_from}')
    return cfg


def main(argv: Optional[List[str]] = None) -> int:
    return cli.run(_main, argv)


def _main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    check_data_paths(cfg, ['train_dataloader', 'val_dataloader'])
    check_class_sets(cfg, ['train_dataloader', 'val_dataloader'])
    check_pretrained(cfg)
    # one run per work dir; under torchrun the ranks of one job share it (rank 0 holds it)
    lock = WorkDirLock(cfg.work_dir) if int(os.environ.get('RANK', 0)) == 0 else None
    with lock or contextlib.nullcontext():
        if lock is not None and lock.removed:
            print(f'removed {len(lock.removed)} temporary file(s) of a killed run from '
                  f'{cfg.work_dir}')
        if cfg.get('resume'):
            print(f'resuming from {cfg.load_from}')
        init_cpu_process_group(args.launcher)
        try:
            # load_from is strict (config key partial_load=True opts out), see DetectorRunner
            runner = DetectorRunner.from_cfg(cfg)
        except KeyError as err:
            # the registry's message for a `type` nobody registered; anything else propagates
            if 'registry' not in str(err):
                raise
            raise ConfigError(f'config {args.config}: {err.args[0]}') from None
        try:
            # a load_from that does not fit (WeightsMismatchError, UnsafeCheckpointError)
            # is reported by cli.run with exit code 2
            runner.train()
        finally:
            shutdown_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
