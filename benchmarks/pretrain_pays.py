"""Does VideoMAE pretraining pay off in miniature? Fine-tuned mini-AVA val mAP by backbone init.

The mini detector (``configs/mini_ava/vit_tiny.py``) is fine-tuned with one budget from
three starts, on every seed of ``--seeds``:

- ``scratch``   random init (the config as it is);
- ``ava``       the encoder of a tube-masking pretraining on mini-AVA's own 12 *train*
                movies (``configs/pretrain/mini_ava.py``, labels unused): the paper's
                "pretrain on the target data itself" claim;
- ``kinetics``  the encoder of a pretraining on mini-Kinetics (``configs/pretrain/
                mini_kinetics.py``; unlabelled movies from the same renderer, none of them a
                mini-AVA movie): the paper's Kinetics -> AVA path;
- ``init_only`` the control: the pretraining model's encoder *before* any step. The mini
                pretraining configs keep the detector backbone's own init in the encoder
                (``encoder_init='backbone'``, trunc-normal 0.02); with the official
                xavier-uniform init (std 0.05 on the mini qkv) this start alone lost 1-2
                points against scratch, so "from a pretrained encoder" also meant "from
                larger weights". The control shows what is left of that.

Both pretrainings use the same target (``--norm-target``), epochs and schedule shape, and
run once (training seed 0); the fine-tuning seeds vary. Reported per run: val frame mAP of
the last epoch (official protocol, 12 classes), the best epoch's, and the mean AP of the
five movement classes (fall down, jump/leap, run/jog, walk, hand wave: those whose label is
in the motion, docs/training.md "Results on mini-AVA"). ``--curve E1 E2 ...`` also keeps the
mini-Kinetics pretraining's checkpoints at those epochs and fine-tunes from each (first
seed): fine-tuned mAP against pretraining steps.

Every step is one ``tools/train.py`` run in a subprocess under ``--work-root``; a run whose
work dir already holds its result is reused (``--fresh`` re-runs everything), so an
interrupted benchmark resumes where it stopped. Needs ``data/mini_ava``
(tools/data/make_mini_ava.py) and, for ``kinetics``, ``data/mini_kinetics``
(tools/data/make_mini_kinetics.py), relative to the current directory like every config.

    python benchmarks/pretrain_pays.py                                  # seeds 0 1
    python benchmarks/pretrain_pays.py --pretrain-epochs 20 --ft-epochs 4 --curve 5 10 20
    python benchmarks/pretrain_pays.py --inits scratch kinetics --seeds 0 1 2

Prints a table and writes ``benchmarks/results/pretrain_pays.json`` (with the command and
each run's own command).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a source checkout

from videomae_det.datasets.mini_ava import (FALL, HAND_WAVE, JUMP, RUN,  # noqa: E402
                                            WALK)
from videomae_det.utils.atomic import atomic_write_text  # noqa: E402

DETECTOR_CONFIG = REPO / 'configs/mini_ava/vit_tiny.py'
PRETRAIN_CONFIGS = dict(ava=REPO / 'configs/pretrain/mini_ava.py',
                        kinetics=REPO / 'configs/pretrain/mini_kinetics.py')
PRETRAIN_DATA = dict(ava='data/mini_ava', kinetics='data/mini_kinetics')
INITS = ('scratch', 'ava', 'kinetics', 'init_only')
MOVEMENT_CLASSES = (FALL, JUMP, RUN, WALK, HAND_WAVE)
RESULT = 'pretrain_pays_result.json'  # written into a fine-tuning work dir when it is done
PRETRAIN_RECORD = 'pretrain_pays_command.json'  # ... and into a pretraining one


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1],
                        help='fine-tuning seeds (randomness.seed)')
    parser.add_argument('--inits', nargs='+', choices=INITS, default=list(INITS[:3]))
    parser.add_argument('--ft-epochs', type=int, default=None,
                        help="fine-tuning epochs, the same for every init (default: the "
                             "detector config's 8)")
    parser.add_argument('--pretrain-epochs', type=int, default=None,
                        help="pretraining epochs of both pretrainings (default: each "
                             "config's own)")
    parser.add_argument('--norm-target', choices=('raw', 'norm'), default='raw',
                        help='pretraining target of both: raw pixels (norm_target=False) or '
                             'the per-cube normalised pixels of the official recipe')
    parser.add_argument('--pretrain-precision', choices=('fp32', 'bf16', 'auto'),
                        default='fp32', help='tools/train.py --precision of the pretrainings')
    parser.add_argument('--pretrain-options', nargs='*', default=[], metavar='KEY=VALUE',
                        help='more --cfg-options for both pretrainings')
    parser.add_argument('--curve', type=int, nargs='*', default=[],
                        help='also fine-tune (first seed) from the mini-Kinetics pretraining '
                             'at these epochs')
    parser.add_argument('--work-root', default='work_dirs/pretrain_pays')
    parser.add_argument('--fresh', action='store_true', help='re-run finished runs too')
    parser.add_argument('--dry-run', action='store_true', help='print the commands only')
    parser.add_argument('--report-only', action='store_true',
                        help='run nothing: report the finished runs, list the missing ones')
    parser.add_argument('--out', default='benchmarks/results/pretrain_pays.json')
    parser.add_argument('--export', nargs='?', const=str(REPO / 'videomae_det/assets'),
                        metavar='DIR',
                        help='after the report, save the mini-Kinetics pretraining (encoder '
                             'and decoder) as DIR/mini_mae_kinetics.safetensors with its '
                             'record (sha256, commands, results); DIR defaults to the '
                             "package's assets, the encoder the quickstart ships with")
    args = parser.parse_args(argv)
    if args.export and 'kinetics' not in args.inits:
        parser.error('--export needs the kinetics init')
    return args


# ---- reading a finished fine-tuning -------------------------------------------------------


def val_history(work_dir: Path) -> List[dict]:
    """The val metrics of every epoch of the newest run in ``work_dir``, in epoch order.

    mmengine's ``<timestamp>/vis_data/scalars.json`` holds one JSON line per logged step;
    the val lines are those with ``ava/mAP`` (their ``step`` is the epoch).
    """
    runs = sorted(p for p in Path(work_dir).glob('*/vis_data/scalars.json'))
    if not runs:
        raise FileNotFoundError(f'no scalars.json under {work_dir}')
    lines = [json.loads(line) for line in runs[-1].read_text().splitlines() if line.strip()]
    return [line for line in lines if 'ava/mAP' in line]


def movement_mean(metrics: dict) -> Optional[float]:
    """Mean AP of the movement classes present in ``metrics`` (``ava/AP_<id>`` keys)."""
    aps = [metrics[f'ava/AP_{c}'] for c in MOVEMENT_CLASSES if f'ava/AP_{c}' in metrics]
    return statistics.mean(aps) if aps else None


def summarise(history: Sequence[dict]) -> dict:
    """Last-epoch and best-epoch mAP, the last epoch's movement mean, the per-epoch mAPs."""
    if not history:
        raise ValueError('the run validated no epoch')
    last = history[-1]
    best = max(history, key=lambda m: m['ava/mAP'])
    return dict(mAP=last['ava/mAP'], movement_mAP=movement_mean(last),
                best_mAP=best['ava/mAP'], best_epoch=best['step'],
                mAP_per_epoch=[m['ava/mAP'] for m in history],
                AP_per_class={k[len('ava/AP_'):]: v for k, v in last.items()
                              if k.startswith('ava/AP_')})


# ---- running ------------------------------------------------------------------------------


def schedule_options(config: Path, epochs: Optional[int]) -> List[str]:
    """--cfg-options giving ``config`` (warm-up + cosine) ``epochs`` epochs in all."""
    if epochs is None:
        return []
    warmup = Config.fromfile(str(config)).param_scheduler[1]['begin']
    if epochs <= warmup:
        raise ValueError(f'{config.name}: {epochs} epochs leave nothing after the '
                         f'{warmup}-epoch warm-up')
    return [f'train_cfg.max_epochs={epochs}', f'param_scheduler.1.end={epochs}',
            f'param_scheduler.1.T_max={epochs - warmup}']


def train_command(config: Path, work_dir: Path, options: Sequence[str],
                  precision: str = 'fp32') -> List[str]:
    cmd = [sys.executable, str(REPO / 'tools/train.py'), str(config), '--work-dir',
           str(work_dir)]
    if precision != 'fp32':
        cmd += ['--precision', precision]
    return cmd + (['--cfg-options', *options] if options else [])


def run(cmd: List[str], log: Path, dry_run: bool) -> float:
    """Run one training to completion (output to ``log``); returns its wall time (s)."""
    print('    $ ' + ' '.join(cmd), flush=True)
    if dry_run:
        return 0.0
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with open(log, 'w') as f:
        code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    if code != 0:
        raise RuntimeError(f'{cmd[2]} failed (exit {code}); see {log}')
    return time.time() - start


def pretrain(name: str, args, epochs_kept: Sequence[int]) -> Dict[int, Path]:
    """Run (or reuse) one pretraining; returns {epoch: checkpoint} for ``epochs_kept``."""
    config = PRETRAIN_CONFIGS[name]
    cfg = Config.fromfile(str(config))
    epochs = args.pretrain_epochs or cfg.train_cfg.max_epochs
    work = Path(args.work_root) / f'pretrain_{name}'
    kept = sorted(set(epochs_kept) | {epochs})
    ckpts = {e: work / f'epoch_{e}.pth' for e in kept}
    if not args.fresh and all(p.is_file() for p in ckpts.values()):
        print(f'[pretrain {name}] reusing {work}')
        return ckpts
    if args.report_only:
        return ckpts
    if not (Path(PRETRAIN_DATA[name]) / ('mini_ava_info.json' if name == 'ava'
                                          else 'mini_kinetics_info.json')).is_file():
        raise FileNotFoundError(f'{PRETRAIN_DATA[name]} is missing: make it first (see the '
                                'module docstring)')
    options = schedule_options(config, args.pretrain_epochs) + [
        f'model.norm_target={args.norm_target == "norm"}',
        # keep the checkpoints of the curve: saved every gcd of the epochs, none deleted
        f'default_hooks.checkpoint.interval={_gcd(kept)}',
        'default_hooks.checkpoint.max_keep_ckpts=-1', *args.pretrain_options]
    print(f'[pretrain {name}] {epochs} epochs, target {args.norm_target}')
    cmd = train_command(config, work, options, args.pretrain_precision)
    seconds = run(cmd, work / 'train.log', args.dry_run)
    if not args.dry_run:
        atomic_write_text(work / PRETRAIN_RECORD, json.dumps(
            dict(command=cmd[1:], seconds=round(seconds), epochs=epochs), indent=1))
    return ckpts


def untrained_encoder(args) -> Dict[int, Path]:
    """The ``init_only`` control: the mini-Kinetics pretraining model as built (seed 0),
    saved without a step like a pretraining checkpoint, ``{0: path}``."""
    import torch

    from videomae_det.registry import MODELS
    path = Path(args.work_root) / 'pretrain_init_only' / 'epoch_0.pth'
    if (args.fresh or not path.is_file()) and not (args.dry_run or args.report_only):
        torch.manual_seed(0)
        model = MODELS.build(Config.fromfile(str(PRETRAIN_CONFIGS['kinetics'])).model)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(dict(meta=dict(epoch=0, iter=0), state_dict=model.state_dict()), path)
    return {0: path}


def pretrain_record(name: str, args) -> Optional[dict]:
    """What :func:`pretrain` recorded about the run (its command and wall time)."""
    path = Path(args.work_root) / f'pretrain_{name}' / PRETRAIN_RECORD
    return json.loads(path.read_text()) if path.is_file() else None


def finetune(tag: str, seed: int, checkpoint: Optional[Path], args) -> Optional[dict]:
    """Run (or reuse) one fine-tuning; returns its summary (see :func:`summarise`), or
    None for a run that ``--report-only`` finds missing."""
    work = Path(args.work_root) / f'ft_{tag}_s{seed}'
    done = work / RESULT
    options = schedule_options(DETECTOR_CONFIG, args.ft_epochs) + [f'randomness.seed={seed}']
    if checkpoint is not None:
        options.append(f'model.backbone.pretrained={checkpoint}')
    cmd = train_command(DETECTOR_CONFIG, work, options)
    if not args.fresh and done.is_file():
        result = json.loads(done.read_text())
        if result.get('command') == cmd[1:]:
            print(f'[finetune {tag} seed {seed}] reusing {work}')
            return result
    if args.report_only:
        print(f'[finetune {tag} seed {seed}] missing')
        return None
    print(f'[finetune {tag} seed {seed}]')
    seconds = run(cmd, work / 'train.log', args.dry_run)
    if args.dry_run:
        return {}
    result = dict(summarise(val_history(work)), init=tag, seed=seed, seconds=round(seconds),
                  command=cmd[1:])
    atomic_write_text(done, json.dumps(result, indent=1))
    return result


def _gcd(values: Sequence[int]) -> int:
    from math import gcd
    out = 0
    for v in values:
        out = gcd(out, v)
    return out


# ---- the shipped encoder -------------------------------------------------------------------


def _relative(cmd: Sequence[str]) -> str:
    """A recorded command as a user types it from the repository root."""
    words = ['python'] + [str(Path(w).relative_to(REPO)) if w.startswith(str(REPO) + os.sep)
                          else w for w in cmd]
    return ' '.join(words)


def export_encoder(checkpoint: Path, report: dict, out_dir: Path) -> Path:
    """Save the pretraining at ``checkpoint`` as ``out_dir/mini_mae_kinetics.safetensors``
    (fp32, the whole pretraining model in the official key layout) and write its record
    ``mini_mae_kinetics.json`` next to it; both atomically. Returns the weights' path."""
    from safetensors.torch import save

    from videomae_det.assets import MINI_MAE, MINI_MAE_RECORD, sha256_of
    from videomae_det.models.weights import read_checkpoint
    from videomae_det.utils.atomic import atomic_open

    # our own run's checkpoint (mmengine pickles its MessageHub): trusted by construction
    state = read_checkpoint(checkpoint, trust_pickle=True).state_dict
    state = {k: v.detach().float().contiguous() for k, v in state.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    weights, record = out_dir / MINI_MAE.name, out_dir / MINI_MAE_RECORD.name
    with atomic_open(weights, 'wb') as f:
        f.write(save(state, metadata=dict(source='benchmarks/pretrain_pays.py --export')))
    info = json.loads((Path(PRETRAIN_DATA['kinetics']) / 'mini_kinetics_info.json').read_text())
    movies = len(info['movies']['unlabelled'])
    pretraining = report['pretraining']['kinetics'] or {}
    commands = [
        f"python tools/data/make_mini_kinetics.py data/mini_kinetics --movies {movies} "
        f"--duration {info['duration']} --seed {info['seed']}",
        _relative(pretraining.get('command', [])),
        report['command'] + ('' if '--export' in report['command'] else ' --export')]
    kinetics = [r for r in report['results'] if r['init'] == 'kinetics']
    scratch = {r['seed']: r for r in report['results'] if r['init'] == 'scratch'}
    atomic_write_text(record, json.dumps(dict(
        file=weights.name, sha256=sha256_of(weights), bytes=weights.stat().st_size,
        parameters=sum(v.numel() for v in state.values()),
        layout='VideoMAEPretrainer state dict (encoder.*, encoder_to_decoder, mask_token, '
               'decoder.*); loads as model.backbone.pretrained of configs/mini_ava/vit_tiny.py',
        pretraining_config='configs/pretrain/mini_kinetics.py',
        pretraining_epochs=pretraining.get('epochs'),
        mini_kinetics=dict(movies=movies, duration=info['duration'], seed=info['seed']),
        commands=commands,
        finetuned_val_mAP={f"seed {r['seed']}": dict(
            pretrained=round(r['mAP'], 4),
            scratch=round(scratch[r['seed']]['mAP'], 4) if r['seed'] in scratch else None)
            for r in kinetics},
        ft_epochs=report['ft_epochs']), indent=1) + '\n')
    return weights


# ---- report -------------------------------------------------------------------------------


def table(results: List[dict]) -> str:
    rows = ['| init | seed | val mAP (last epoch) | movement mean AP | best mAP (epoch) |',
            '|---|---|---|---|---|']
    for r in results:
        rows.append(f"| {r['init']} | {r['seed']} | {100 * r['mAP']:.1f} | "
                    f"{100 * r['movement_mAP']:.1f} | {100 * r['best_mAP']:.1f} "
                    f"({r['best_epoch']}) |")
    return '\n'.join(rows)


def main(argv=None):
    args = parse_args(argv)
    if not Path('data/mini_ava/mini_ava_info.json').is_file():
        print('error: data/mini_ava is missing: python tools/data/make_mini_ava.py',
              file=sys.stderr)
        return 2
    start = time.time()
    checkpoints = {}
    for name in ('ava', 'kinetics'):
        if name in args.inits:
            checkpoints[name] = pretrain(name, args, args.curve if name == 'kinetics' else ())
    if 'init_only' in args.inits:
        checkpoints['init_only'] = untrained_encoder(args)
    results, curve = [], []
    for seed in args.seeds:
        for init in args.inits:
            ckpt = None if init == 'scratch' else checkpoints[init][max(checkpoints[init])]
            results.append(finetune(init, seed, ckpt, args))
    for epoch in args.curve:
        if 'kinetics' in args.inits and epoch != max(checkpoints['kinetics']):
            result = finetune(f'kinetics_ep{epoch}', args.seeds[0],
                              checkpoints['kinetics'][epoch], args)
            if result is not None:
                curve.append(dict(result, pretrain_epochs=epoch))
    if args.dry_run:
        return 0
    results = [r for r in results if r is not None]
    print(table(results))
    for r in curve:
        print(f"mini-Kinetics pretraining epoch {r['pretrain_epochs']}: fine-tuned val mAP "
              f"{100 * r['mAP']:.1f} (movement {100 * r['movement_mAP']:.1f})")
    by_init = {init: [r['mAP'] for r in results if r['init'] == init] for init in args.inits}
    report = dict(
        benchmark='pretrain_pays', command=' '.join(['python', *sys.argv]),
        ft_epochs=args.ft_epochs, pretrain_epochs=args.pretrain_epochs,
        norm_target=args.norm_target, pretrain_precision=args.pretrain_precision,
        pretrain_options=args.pretrain_options, seeds=args.seeds,
        machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
        omp_threads=os.environ.get('OMP_NUM_THREADS'), load_avg_1min=os.getloadavg()[0],
        wall_seconds=round(time.time() - start),
        pretraining={name: pretrain_record(name, args) for name in checkpoints},
        results=results, curve=curve,
        mean_mAP={k: statistics.mean(v) for k, v in by_init.items() if v})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(report, indent=1))
    print(f'written {out}')
    if args.export:
        weights = export_encoder(checkpoints['kinetics'][max(checkpoints['kinetics'])], report,
                                 Path(args.export))
        print(f'written {weights} and its record')
    return 0


if __name__ == '__main__':
    sys.exit(main())
