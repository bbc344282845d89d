"""Evaluate a trained detector checkpoint on the config's test set (frame mAP@0.5).

    python tools/test.py configs/mini_ava/vit_tiny.py work_dirs/vit_tiny/best_ava_mAP_epoch_8.pth
    python tools/test.py CONFIG CHECKPOINT --out results.csv    # also write the AVA result CSV
    python tools/test.py CONFIG CHECKPOINT --batch-size 16 --precision auto

Prints the per-class AP table and the mAP. The checkpoint is one written by
``tools/train.py`` or a released detector as downloaded, with its ``configs/ava/zoo``
config (it loads with ``torch.load(weights_only=True)``). A checkpoint that does not fit
the config exactly (missing, unexpected or wrong-shape keys) is refused with the key
report and exit status 2, unless ``--partial-load`` asks to load what fits.
"""
import argparse
import os.path as osp
import pickle
import sys
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config, DictAction

from videomae_det.engine.config_checks import (ConfigError, check_class_sets, check_data_paths,
                                               data_paths,
                                               load_config)
from videomae_det.engine.distributed import init_cpu_process_group, shutdown_process_group
from videomae_det.engine.runner import DetectorRunner
from videomae_det.formats import read_label_map
from videomae_det.models.weights import UnsafeCheckpointError
from videomae_det.utils import cli
from videomae_det.utils.precision import (PRECISIONS, default_device, describe,
                                          in_precision, resolve_precision)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description='Evaluate an AVA action detector')
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='detector checkpoint written by tools/train.py')
    parser.add_argument('--out', help='write the detections as an AVA result CSV here')
    parser.add_argument('--partial-load', action='store_true',
                        help='load the keys that fit and report the rest instead of refusing '
                        'a checkpoint that does not match the config')
    parser.add_argument('--work-dir', help='where the test log goes (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE', help='override config entries')
    parser.add_argument('--batch-size', type=int, help='keyframe clips per forward (default: '
                        "the config's test_dataloader.batch_size); results do not depend on it")
    parser.add_argument('--precision', choices=PRECISIONS, default='fp32',
                        help='bf16: bfloat16 autocast; auto: bf16 where the device has native '
                        'bf16 (CUDA, CPUs with AVX512-BF16/AMX), else fp32 (default: fp32)')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config, args.cfg_options)
    if not osp.isfile(args.checkpoint):
        raise ConfigError(f'checkpoint not found: {args.checkpoint}')
    cfg.launcher = args.launcher
    name = osp.splitext(osp.basename(args.config))[0]
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join('work_dirs', name)
    cfg.load_from = args.checkpoint
    cfg.partial_load = args.partial_load
    cfg.resume = False
    if args.batch_size is not None:
        if args.batch_size < 1:
            raise ConfigError(f'--batch-size must be at least 1; got {args.batch_size}')
        cfg.test_dataloader.batch_size = args.batch_size
    if 'backbone' in cfg.model:
        # the detector's weights come from the checkpoint: don't read the VideoMAE file too
        cfg.model.backbone.pretrained = None
    cli.check_outputs({'--out': args.out}, {'config': args.config, 'checkpoint': args.checkpoint,
                                            **dict(data_paths(cfg, ['test_dataloader']))})
    if args.out:
        evaluator = cfg.test_evaluator
        for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
            metric.out_file = args.out
    return cfg


def format_table(metrics: Dict[str, float], names: Dict[int, str]) -> str:
    """AVAMetric's results -> text table: one row per class (``<prefix>/AP_<id>``, with its
    label-map name), then the mAP rows (overall first, then the category groups)."""
    per_class, overall = [], []
    for key, value in metrics.items():
        last = key.split('/')[-1]
        if last.startswith('AP_') and last[3:].isdigit():
            action = int(last[3:])
            per_class.append((f'{action:>2} {names.get(action, "")}', value))
        elif 'mAP' in last:
            overall.append((last, value))
    overall.sort(key=lambda kv: kv[0] != 'mAP')
    width = max([len(k) for k, _ in per_class + overall] + [5])
    rule = '-' * (width + 9)
    lines = [f'{"class":<{width}}   AP (%)', rule]
    lines += [f'{k:<{width}}   {100 * v:6.2f}' for k, v in per_class]
    lines += [rule] + [f'{k:<{width}}   {100 * v:6.2f}' for k, v in overall]
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    return cli.run(_main, argv)


def _main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    check_data_paths(cfg, ['test_dataloader'])
    check_class_sets(cfg, ['test_dataloader'])
    init_cpu_process_group(args.launcher)
    try:
        metrics, rank = evaluate(cfg, args.precision)
    except UnsafeCheckpointError:  # names the file already; cli.run reports it (exit 2)
        raise
    except pickle.UnpicklingError as err:  # torch's message does not name the file
        raise cli.UsageError(f'{args.checkpoint}: {cli.describe(err)}') from err
    finally:  # also when the weights do not fit (WeightsMismatchError, exit 2)
        shutdown_process_group()
    if rank == 0:
        print(format_table(metrics, label_map_of(cfg)))
        if args.out:
            print(f'detections written to {args.out}')
    return 0


def evaluate(cfg: Config, precision: str = 'fp32') -> Tuple[Dict[str, float], int]:
    """Run the test loop of ``cfg`` (checkpoint in ``load_from``) -> (metrics, rank)."""
    runner = DetectorRunner.from_cfg(cfg)
    device = default_device()
    used = resolve_precision(precision, device)
    runner.logger.info(f'test precision: {used} ({describe(device)})')
    if used != 'fp32':
        runner.model.test_step = in_precision(runner.model.test_step, used, device)
    return runner.test(), runner.rank


def label_map_of(cfg: Config) -> Dict[int, str]:
    """{AVA id: name} of the test metric's label map (empty if it names none)."""
    evaluator = cfg.test_evaluator
    metric = evaluator[0] if isinstance(evaluator, list) else evaluator
    path = metric.get('label_map_file')
    return read_label_map(path) if path else {}


if __name__ == '__main__':
    sys.exit(main())
