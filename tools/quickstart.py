"""The whole job end to end on mini-AVA, the embedded synthetic dataset.

    python tools/quickstart.py                       # about 10-15 minutes on 2 CPU cores
    python tools/quickstart.py --size tiny --pretrain-epochs 1 --epochs 1   # a smoke run
    python tools/quickstart.py --precision auto      # bf16 where the CPU/GPU runs it natively

Steps (each is one of the project's tools, run as a subprocess so the output is exactly
what a user sees running it by hand):

1. data       generate mini-AVA under ``data/mini_ava`` (skipped when the same preset and
              seed are already there)
2. pretrain   VideoMAE tube-masking pretraining of the small ViT on mini-AVA's train movies
              (``configs/pretrain/mini_ava.py``)
3. visualize  what the pretrained model reconstructs of a val clip with 90% of it hidden
              (``tools/visualize_mae.py``: original / masked / reconstructed frames)
4. finetune   the action detector from that encoder (``configs/mini_ava/vit_tiny.py``),
              keeping the best checkpoint by val mAP
5. static     the same detector fed each keyframe repeated (``vit_tiny_static.py``): the
              baseline that sees no motion
6. evaluate   the best checkpoint on val: per-class table, mAP, AP bar chart
7. infer      the detector on one whole mini-AVA val movie: annotated mp4, CSV and JSON

Paths in the configs (``data/mini_ava``) are relative to the current directory, like every
mmengine config; run from the repository root, or anywhere else to keep that tree clean.
Everything else is written under ``--work-dir`` (default ``work_dirs/quickstart``), ending
with ``summary.json``.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a source checkout

from videomae_det.utils import atomic_write_text  # noqa: E402
from videomae_det.utils import cli  # noqa: E402
from videomae_det.utils.precision import (PRECISIONS, default_device,  # noqa: E402
                                          resolve_precision)

DATA_ROOT = Path('data/mini_ava')  # what configs/mini_ava and configs/pretrain/mini_ava.py read
PRETRAIN_CONFIG = REPO / 'configs/pretrain/mini_ava.py'
DETECTOR_CONFIG = REPO / 'configs/mini_ava/vit_tiny.py'
STATIC_CONFIG = REPO / 'configs/mini_ava/vit_tiny_static.py'


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/quickstart',
                        help='where every output goes (default: work_dirs/quickstart)')
    parser.add_argument('--size', default='default',
                        help='mini-AVA preset (tiny, default, large; see make_mini_ava.py)')
    parser.add_argument('--seed', type=int, default=0, help='mini-AVA seed')
    parser.add_argument('--pretrain-epochs', type=_positive, default=None,
                        help="pretraining epochs (default: the pretraining config's)")
    parser.add_argument('--epochs', type=_positive, default=None,
                        help="fine-tuning epochs, detector and static baseline alike "
                             "(default: the detector config's)")
    parser.add_argument('--skip-static', action='store_true',
                        help='do not train the static baseline (summary records null)')
    parser.add_argument('--precision', choices=PRECISIONS, default='fp32',
                        help='precision of every step (training, evaluation, inference): '
                             'fp32 (default), bf16, or auto = bf16 where the device runs '
                             'it natively (AVX512-BF16/AMX CPUs, recent GPUs)')
    return parser.parse_args(argv)


class Step:
    """Prints a numbered header, times the step and records it in the summary."""

    def __init__(self, total: int, timings: Dict[str, float]):
        self.total, self.index, self.timings = total, 0, timings

    def run(self, name: str, title: str, argv: List[str]) -> None:
        self.index += 1
        print(f'\n[{self.index}/{self.total}] {title}\n    $ {" ".join(map(str, argv))}',
              flush=True)
        start = time.time()
        proc = subprocess.run([str(a) for a in argv])
        self.timings[name] = round(time.time() - start, 1)
        if proc.returncode != 0:
            raise QuickstartError(f'step {self.index} ({title}) failed with exit code '
                                  f'{proc.returncode}; its output is above')
        print(f'    done in {self.timings[name]:.0f} s', flush=True)


class QuickstartError(RuntimeError):
    """A step of the quickstart failed (its own output says why)."""


def mini_ava_ready(size: str, seed: int) -> bool:
    """True when ``data/mini_ava`` holds a complete mini-AVA of this preset and seed."""
    info_path = DATA_ROOT / 'mini_ava_info.json'
    if not info_path.is_file():
        return False
    info = json.loads(info_path.read_text())
    return info.get('size') == size and info.get('seed') == seed


def latest_checkpoint(work_dir: Path, pattern: str) -> Path:
    found = sorted(glob.glob(str(work_dir / pattern)), key=os.path.getmtime)
    if not found:
        raise QuickstartError(f'no checkpoint matching {pattern} in {work_dir}')
    return Path(found[-1])


def stitch_movie(movie: str, out_path: Path) -> None:
    """Join a movie's 1-second clips (``data/mini_ava/clips/trainval/<movie>/<sec>.mp4``) into
    one video by stream copy (no re-encoding), written atomically."""
    from videomae_det.datasets.video_io import ffmpeg_exe
    clip_dir = DATA_ROOT / 'clips' / 'trainval' / movie
    clips = sorted(clip_dir.glob('*.mp4'), key=lambda p: int(p.stem))
    if not clips:
        raise QuickstartError(f'no clips in {clip_dir}')
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        listing = Path(tmp) / 'clips.txt'
        listing.write_text(''.join(f"file '{c.resolve()}'\n" for c in clips))
        tmp_out = Path(tmp) / out_path.name
        subprocess.run([ffmpeg_exe(), '-v', 'error', '-f', 'concat', '-safe', '0', '-i',
                        str(listing), '-c', 'copy', str(tmp_out)], check=True)
        os.replace(tmp_out, out_path)


def evaluate(steps: Step, config: Path, checkpoint: Path, run_dir: Path, count_step: bool,
             precision: str, plot: Optional[Path] = None) -> dict:
    """tools/test.py writes the val detections CSV (``<run_dir>/val_results.csv``) and prints
    the per-class table; tools/eval_ava.py scores that file into ``<run_dir>/val_report.json``
    (and the AP bar chart). Returns the report."""
    results_csv, report = run_dir / 'val_results.csv', run_dir / 'val_report.json'
    test = [sys.executable, REPO / 'tools/test.py', config, checkpoint, '--out', results_csv,
            '--work-dir', run_dir / 'test', '--precision', precision]
    if count_step:
        steps.run('test', f'Evaluate {checkpoint.name} on mini-AVA val', test)
    else:
        subprocess.run([str(a) for a in test], check=True, stdout=subprocess.DEVNULL)
    annotations = DATA_ROOT / 'annotations'
    score = [sys.executable, REPO / 'tools/eval_ava.py', annotations / 'ava_val_v2.2.csv',
             results_csv, '--label-map', annotations / 'mini_ava_action_list.pbtxt',
             '--out', report, *(['--plot', plot] if plot else [])]
    subprocess.run([str(a) for a in score], check=True,
                   stdout=None if count_step else subprocess.DEVNULL)
    return json.loads(report.read_text())


def first_val_movie() -> str:
    info = json.loads((DATA_ROOT / 'mini_ava_info.json').read_text())
    return sorted(info['movies']['val'])[0]


def cfg_options(config: Path, epochs: Optional[int],
                pretrained: Optional[Path] = None) -> List[str]:
    """``--cfg-options`` for tools/train.py: the epoch budget and the backbone weights.

    A new budget moves the end of the config's cosine schedule (``param_scheduler[1]``,
    after ``warmup_epochs`` of warm-up) with it, so the lr still decays over the whole run
    (the schedulers are iteration-based, so a fractional epoch is fine).
    """
    options = []
    if epochs is not None:
        from mmengine.config import Config
        warmup = Config.fromfile(str(config)).warmup_epochs
        if warmup >= epochs:  # a budget inside the warm-up: warm up over its first half
            warmup = epochs / 2
        options += [f'train_cfg.max_epochs={epochs}', f'param_scheduler.0.end={warmup}',
                    f'param_scheduler.1.begin={warmup}', f'param_scheduler.1.end={epochs}',
                    f'param_scheduler.1.T_max={epochs - warmup}']
    if pretrained is not None:
        options.append(f'model.backbone.pretrained={pretrained}')
    return ['--cfg-options', *options] if options else []


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    py = sys.executable
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    timings: Dict[str, float] = {}
    steps = Step(total=7, timings=timings)
    start = time.time()
    annotations = DATA_ROOT / 'annotations'
    precision = resolve_precision(args.precision, default_device())
    if args.precision == 'auto':
        print(f'--precision auto: every step runs in {precision}')
    in_precision = ['--precision', precision]
    try:
        if mini_ava_ready(args.size, args.seed):
            steps.index += 1
            print(f'\n[1/{steps.total}] mini-AVA ({args.size}, seed {args.seed}) already in '
                  f'{DATA_ROOT}')
        else:
            steps.run('data', f'Generate mini-AVA ({args.size}) in {DATA_ROOT}', [
                py, REPO / 'tools/data/make_mini_ava.py', DATA_ROOT, '--size', args.size,
                '--seed', str(args.seed)])

        pretrain_dir = work_dir / 'pretrain'
        steps.run('pretrain', 'VideoMAE pretraining with tube masking (mask ratio 0.9)', [
            py, REPO / 'tools/train.py', PRETRAIN_CONFIG, '--work-dir', pretrain_dir,
            *in_precision, *cfg_options(PRETRAIN_CONFIG, args.pretrain_epochs)])
        encoder = latest_checkpoint(pretrain_dir, 'epoch_*.pth')

        # the val movie the inference step runs on; its centre window shows what the
        # pretraining learnt (a movie it never saw)
        movie = first_val_movie()
        movie_path = work_dir / 'inference' / f'{movie}.mp4'
        stitch_movie(movie, movie_path)
        mae_grid = work_dir / 'mae_reconstruction.png'
        steps.run('visualize', 'What the pretrained model reconstructs of a val clip', [
            py, REPO / 'tools/visualize_mae.py', PRETRAIN_CONFIG, encoder, movie_path,
            '--out', mae_grid])

        detector_dir = work_dir / 'detector'
        steps.run('finetune', f'Fine-tune the action detector from {encoder}', [
            py, REPO / 'tools/train.py', DETECTOR_CONFIG, '--work-dir', detector_dir,
            *in_precision, *cfg_options(DETECTOR_CONFIG, args.epochs, encoder)])
        best = latest_checkpoint(detector_dir, 'best_*.pth')

        static_map = None
        if args.skip_static:
            steps.index += 1
            print(f'\n[{steps.index}/{steps.total}] static baseline skipped (--skip-static)')
        else:
            static_dir = work_dir / 'static_baseline'
            steps.run('static', 'Static baseline: the same detector fed repeated keyframes', [
                py, REPO / 'tools/train.py', STATIC_CONFIG, '--work-dir', static_dir,
                *in_precision, *cfg_options(STATIC_CONFIG, args.epochs, encoder)])
            static_best = latest_checkpoint(static_dir, 'best_*.pth')
            static_map = evaluate(steps, STATIC_CONFIG, static_best, static_dir,
                                  count_step=False, precision=precision)['mAP']

        val_report = evaluate(steps, DETECTOR_CONFIG, best, detector_dir, count_step=True,
                              precision=precision, plot=work_dir / 'val_ap.png')

        annotated = work_dir / 'inference' / f'{movie}_annotated.mp4'
        steps.run('infer', f'Inference on the whole val movie {movie}', [
            py, REPO / 'tools/infer.py', movie_path, '--config', DETECTOR_CONFIG,
            '--checkpoint', best, '--out', annotated,
            '--csv', work_dir / 'inference' / f'{movie}.csv',
            '--json', work_dir / 'inference' / f'{movie}.json',
            '--detector', 'file', '--boxes', DATA_ROOT / 'boxes/ava_val_det_person_bbox.json',
            '--boxes-images', annotations / 'ava_val_v2.2_min.json',
            '--det-score-thr', '0.8',  # the boxes validation keeps
            '--time-offset', '900',  # mini-AVA movies start at second 900, like AVA's
            *in_precision])
    except (QuickstartError, subprocess.CalledProcessError) as err:
        print(f'\nquickstart stopped: {err}', file=sys.stderr)
        return 1

    summary = dict(
        val_mAP=val_report['mAP'],
        static_baseline_mAP=static_map,
        per_class_AP=val_report['per_class'],
        best_checkpoint=str(best),
        config=str(DETECTOR_CONFIG),
        pretrain_checkpoint=str(encoder),
        pretrain_config=str(PRETRAIN_CONFIG),
        mae_visualization=str(mae_grid),
        val_results_csv=str(detector_dir / 'val_results.csv'),
        ap_plot=str(work_dir / 'val_ap.png'),
        annotated_video=str(annotated),
        mini_ava=dict(root=str(DATA_ROOT), size=args.size, seed=args.seed),
        precision=precision,
        seconds=dict(timings, total=round(time.time() - start, 1)),
    )
    atomic_write_text(work_dir / 'summary.json', json.dumps(summary, indent=2) + '\n')
    static_text = 'skipped' if static_map is None else f'{100 * static_map:.1f}'
    print(f'\nmini-AVA val frame mAP@0.5: {100 * summary["val_mAP"]:.1f} '
          f'(static baseline: {static_text}); {summary["seconds"]["total"]:.0f} s in all.\n'
          f'Everything is in {work_dir}/ (summary.json, val_ap.png, mae_reconstruction.png, '
          'inference/).')
    return 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
