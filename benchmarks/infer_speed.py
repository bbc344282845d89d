"""End-to-end inference speed (tools/infer.py) vs the model's forward passes alone.

For each detector config (default: ViT-S and ViT-B, AVA 16x4 configs, random weights) a
synthetic 640x360 video at 30 fps with walking people is run through the whole inference
tool, 1 keyframe per second: decoding, HOG person detection, the config's test pipeline,
the model, drawing and H.264 encoding of every frame, CSV and JSON. Every model input of
that run is recorded; then the same inputs go through ``model.test_step`` alone, serially.
The ratio total / forward says how well decoding, detection and drawing hide behind the
model (target: at most 1.3).

    python benchmarks/infer_speed.py                         # ViT-S 30 s, ViT-B 30 s
    python benchmarks/infer_speed.py --seconds 4 2           # shorter videos (2-core CPU)

Prints a table and writes ``benchmarks/results/infer_speed.json``.
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))
import infer  # noqa: E402

from videomae_det.apis import HOGPersonDetector, init_detector  # noqa: E402
from videomae_det.apis.inference import clip_spec_of  # noqa: E402
from videomae_det.utils.atomic import atomic_write_text  # noqa: E402
from videomae_det.utils.precision import (PRECISIONS, in_precision,  # noqa: E402
                                          resolve_precision)
from videomae_det.visualization.synthetic import write_synthetic_video  # noqa: E402

TARGET_RATIO = 1.3


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--configs', nargs='+', default=['configs/ava/vit_s.py', 'configs/ava/vit_b.py'])
    p.add_argument('--seconds', nargs='+', type=float, default=[30.0],
                   help='video length per config (one value: the same for all)')
    p.add_argument('--fps', type=float, default=30.0)
    p.add_argument('--size', type=int, nargs=2, default=(640, 360), metavar=('W', 'H'))
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--batch-size', type=int, default=1, help='keyframe clips per forward')
    p.add_argument('--precision', choices=PRECISIONS, default='fp32')
    p.add_argument('--out', default='benchmarks/results/infer_speed.json')
    args = p.parse_args(argv)
    if len(args.seconds) == 1:
        args.seconds = args.seconds * len(args.configs)
    if len(args.seconds) != len(args.configs):
        p.error('give one --seconds value, or one per config')
    return args


def _sync(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def bench_config(config: str, seconds: float, args, work: Path) -> dict:
    model = init_detector(config, None, device=args.device)  # random weights
    spec = clip_spec_of(model.cfg)
    video = work / f'walkers_{Path(config).stem}.mp4'
    write_synthetic_video(video, int(round(seconds * args.fps)), args.fps, tuple(args.size),
                          num_people=3)

    # warm-up (thread pools, kernel selection) on a small input: a full-size pass would
    # cost as much as a timed keyframe on a CPU
    with torch.no_grad():
        model.extract_feat(torch.zeros(1, 3, spec.clip_len, 32, 32, device=args.device))

    # end to end, recording every model input on the way
    recorded, forward_in_run = [], []
    test_step = in_precision(model.test_step, args.precision, args.device)

    def recording_test_step(data):
        recorded.append(data)
        start = time.perf_counter()
        out = test_step(data)
        _sync(args.device)
        forward_in_run.append(time.perf_counter() - start)
        return out

    model.test_step = recording_test_step
    infer_args = infer.parse_args([
        str(video), '--config', config, '--checkpoint', 'random-weights', '--out',
        str(work / 'out.mp4'), '--csv', str(work / 'out.csv'), '--json', str(work / 'out.json'),
        '--device', args.device, '--batch-size', str(args.batch_size)])
    stats = infer.infer_video(infer_args, model, HOGPersonDetector())
    del model.test_step
    if stats['error'] is not None:
        raise stats['error']

    # the model alone on the same inputs, one after another
    forward = 0.0
    for data in recorded:
        start = time.perf_counter()
        test_step(data)
        _sync(args.device)
        forward += time.perf_counter() - start
    people = sum(len(s.proposals) for d in recorded for s in d['data_samples'])
    return dict(
        config=config, batch_size=args.batch_size,
        precision=resolve_precision(args.precision, args.device), video_seconds=seconds, frames=stats['frames'],
        keyframes=stats['keyframes'], model_calls=len(recorded), people=people,
        input_shape=list(recorded[0]['inputs'][0].shape) if recorded else None,
        total_s=stats['seconds'], forward_s=forward, forward_in_run_s=sum(forward_in_run),
        fps=stats['frames'] / stats['seconds'],
        ratio=stats['seconds'] / forward if forward else float('nan'))


def main(argv=None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config, seconds in zip(args.configs, args.seconds):
            print(f'{config}: {seconds:g} s video ...', flush=True)
            rows.append(bench_config(config, seconds, args, Path(tmp)))
    load_after = os.getloadavg()

    header = (f'{"config":24} {"video s":>7} {"frames":>6} {"kf":>3} {"clip (C,T,H,W)":>17} '
              f'{"total s":>8} {"fwd s":>8} {"fps":>6} {"total/fwd":>9}')
    print(header)
    for r in rows:
        shape = 'x'.join(str(v) for v in r['input_shape']) if r['input_shape'] else '-'
        print(f'{r["config"]:24} {r["video_seconds"]:7g} {r["frames"]:6d} {r["keyframes"]:3d} '
              f'{shape:>17} {r["total_s"]:8.1f} {r["forward_s"]:8.1f} {r["fps"]:6.2f} '
              f'{r["ratio"]:9.2f}')
    print(f'target: total/forward <= {TARGET_RATIO}; load average before/after: '
          f'{load_before[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} CPUs')
    result = dict(
        benchmark='infer_speed', target_ratio=TARGET_RATIO, rows=rows,
        device=args.device, torch_threads=torch.get_num_threads(), cpus=os.cpu_count(),
        load_average_before=load_before, load_average_after=load_after,
        torch=torch.__version__, python=platform.python_version(),
        command='python benchmarks/infer_speed.py ' + ' '.join(sys.argv[1:] if argv is None
                                                               else argv))
    atomic_write_text(args.out, json.dumps(result, indent=1) + '\n')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
