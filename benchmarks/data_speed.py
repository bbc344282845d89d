"""Training data pipeline speed vs raw decord decoding of the same frames.

For a fixed list of training samples, three ways of getting them are timed:

- ``raw decode``: decord alone, in this process, one thread: for each sample open the
  1-second clips its frames come from and ``get_batch`` exactly those frames (the floor
  cost of any pipeline that reads these clips);
- ``pipeline, N workers``: ``AVAVideoDataset`` with the full training pipeline (decode,
  resize, random crop, flip, colour jitter, box jitter, packing) through a torch
  ``DataLoader`` with N worker processes (batches of 8, ``pseudo_collate``), timed after the
  first batch so worker start-up is not counted.

Ratio = pipeline samples/s ÷ raw-decode samples/s (target ≥ 0.7 with one worker; with two
workers the pipeline uses two cores against raw decode's one). Each round runs raw, 1 worker,
raw, 2 workers, raw, and each ratio is taken against the raw runs next to it in time; the
table gives medians over rounds, so slowly drifting load from other jobs cancels. The
"in-process" ratio alternates raw decode and ``dataset[i]`` sample by sample (no DataLoader):
the pipeline's own overhead, free of inter-process transfer.

Two settings:
- ``mini``: mini-AVA as stored (160×120 clips), 8×4 clips, short side 112, 112² crops
  (configs/mini_ava/vit_tiny.py);
- ``ava``: the same clips re-encoded at 480×360 (AVA's stored size), 16×4 clips, short side
  256, 224² crops (configs/ava/vit_b.py).

    python benchmarks/data_speed.py                   # both settings
    python benchmarks/data_speed.py --samples 64 --settings mini

Decoders: ``--backends decord pyav torchcodec`` adds a second table, one row per decoder:
its raw decode (the library called directly on the same frames), the 1-worker pipeline
with the dataset on that decoder (``VIDEOMAE_DET_VIDEO_BACKEND``, inherited by the
workers), and both against raw decord decode measured in the same rounds.

Prints a table and writes ``benchmarks/results/data_speed.json``.

    python benchmarks/data_speed.py --settings mini --backends decord pyav torchcodec \
        --out benchmarks/results/data_speed_backends.json
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from videomae_det.datasets import (AVAVideoDataset, BoxJitter, ColorJitter, Flip,  # noqa: E402
                                   PackActionInputs, RandomCrop, Resize)
from videomae_det.datasets.mini_ava import generate_mini_ava  # noqa: E402
from videomae_det.datasets import video_io  # noqa: E402
from videomae_det.datasets.video_io import H264_ARGS, ffmpeg_exe  # noqa: E402
from videomae_det.utils.atomic import atomic_write_text  # noqa: E402

SETTINGS = {
    'mini': dict(clip_len=8, frame_interval=4, short_side=112, crop=112, size=None),
    'ava': dict(clip_len=16, frame_interval=4, short_side=256, crop=224, size=(480, 360)),
}
TARGET_RATIO_ONE_WORKER = 0.7


def upscale_clips(src_root: Path, dst_root: Path, movies, size) -> None:
    """Re-encode the clips of ``movies`` at ``size`` (W, H) with our H.264 settings."""
    for movie in movies:
        out_dir = dst_root / 'clips/trainval' / movie
        out_dir.mkdir(parents=True, exist_ok=True)
        for clip in sorted((src_root / 'clips/trainval' / movie).glob('*.mp4')):
            subprocess.run([ffmpeg_exe(), '-y', '-loglevel', 'error', '-i', str(clip),
                            '-vf', f'scale={size[0]}:{size[1]}', *H264_ARGS, '-crf', '23',
                            '-threads', '1', str(out_dir / clip.name)], check=True)


def make_data(workdir: Path, setting: str, movies: int):
    """-> (data_root, ann_file) of the benchmark data for ``setting``."""
    mini = workdir / 'mini_ava'
    if not (mini / 'mini_ava_info.json').is_file():
        generate_mini_ava(mini, seed=0, size='default', workers=2)
    info = json.loads((mini / 'mini_ava_info.json').read_text())
    train_movies = info['movies']['train'][:movies]
    size = SETTINGS[setting]['size']
    if size is None:
        root = mini
    else:
        root = workdir / f'ava_like_{size[0]}x{size[1]}'
        if not (root / 'done').is_file():
            upscale_clips(mini, root, train_movies, size)
            (root / 'done').write_text('')
    # annotations for the chosen movies, boxes scaled to the stored size
    data = json.loads((mini / 'annotations/ava_train_v2.2_min.json').read_text())
    sx = sy = 1.0
    if size is not None:
        sx, sy = size[0] / 160, size[1] / 120
    images = [dict(img, width=round(img['width'] * sx), height=round(img['height'] * sy))
              for img in data['images'] if img['movie'] in train_movies]
    ids = {img['id'] for img in images}
    anns = [dict(a, bbox=[a['bbox'][0] * sx, a['bbox'][1] * sy, a['bbox'][2] * sx,
                          a['bbox'][3] * sy]) for a in data['annotations'] if a['image_id'] in ids]
    ann_file = root / f'bench_{setting}_min.json'
    ann_file.write_text(json.dumps(dict(images=images, annotations=anns,
                                        categories=data['categories'])))
    return root, ann_file


def build_dataset(root: Path, ann_file: Path, setting: str) -> AVAVideoDataset:
    s = SETTINGS[setting]
    pipeline = [Resize(scale=s['short_side']), RandomCrop(size=s['crop']), Flip(flip_ratio=0.5),
                ColorJitter(), BoxJitter(), PackActionInputs()]
    return AVAVideoDataset(str(ann_file), data_root=str(root), clip_len=s['clip_len'],
                           frame_interval=s['frame_interval'], pipeline=pipeline)


def raw_decode_plan(ds: AVAVideoDataset, indices):
    """For each sample: [(clip path, [frame indices])], exactly what the dataset decodes."""
    plans = []
    for i in indices:
        info = ds.get_data_info(i)
        frames, _ = ds._layout._plan(info['movie'], ds._times(info))
        by_sec = defaultdict(list)
        for sec, k in frames:
            by_sec[sec].append(k)
        plans.append([(ds._layout._path(info['movie'], sec), sorted(set(ks)))
                      for sec, ks in by_sec.items()])
    return plans


def decode_raw(plan, backend: str = 'decord') -> None:
    """The decoding library alone (our thin adapter: open, get the frames as an array)."""
    for path, ks in plan:
        video_io._CLASSES[backend](path, 1).get_batch(ks)


def time_raw(plans, backend: str = 'decord') -> float:
    start = time.perf_counter()
    for plan in plans:
        decode_raw(plan, backend)
    return len(plans) / (time.perf_counter() - start)


def time_in_process(ds, indices, plans):
    """Samples/s of raw decode and of ``ds[i]`` (whole pipeline, no DataLoader), alternated
    sample by sample so that both see the same machine load; which goes first alternates
    too, so neither always finds the clip's bytes already in the CPU caches."""
    t_raw = t_pipe = 0.0
    for n, (i, plan) in enumerate(zip(indices, plans)):
        for which in ((0, 1) if n % 2 else (1, 0)):
            start = time.perf_counter()
            if which == 0:
                decode_raw(plan)
                t_raw += time.perf_counter() - start
            else:
                ds[i]
                t_pipe += time.perf_counter() - start
    return len(indices) / t_raw, len(indices) / t_pipe


def time_pipeline(ds, indices, workers: int, batch_size: int = 8) -> float:
    loader = DataLoader(ds, batch_size=batch_size, sampler=indices, num_workers=workers,
                        collate_fn=pseudo_collate, persistent_workers=False)
    it = iter(loader)
    next(it)  # worker start-up and the first batch are not counted
    start, n = time.perf_counter(), 0
    for batch in it:
        n += len(batch['inputs'])
    return n / (time.perf_counter() - start)


def run_setting(workdir: Path, setting: str, samples: int, movies: int, seed: int,
                rounds: int) -> dict:
    root, ann_file = make_data(workdir, setting, movies)
    ds = build_dataset(root, ann_file, setting)
    rng = np.random.default_rng(seed)
    indices = rng.choice(len(ds), size=samples, replace=len(ds) < samples).tolist()
    np.random.seed(seed)
    plans = raw_decode_plan(ds, indices)
    time_raw(plans[:8])  # warm the page cache for both contenders
    # Short rounds alternate the contenders (raw, 1 worker, raw, 2 workers) and each ratio
    # is taken within its round, against the mean of the raw runs around it: load from
    # other jobs drifts slowly, so neighbours in time see the same machine.
    raws, ones, twos, r1, r2, inproc = [], [], [], [], [], []
    for _ in range(rounds):
        raw_a = time_raw(plans)
        ones.append(time_pipeline(ds, indices, 1))
        raw_b = time_raw(plans)
        twos.append(time_pipeline(ds, indices, 2))
        raw_c = time_raw(plans)
        raws += [raw_a, raw_b, raw_c]
        r1.append(ones[-1] / ((raw_a + raw_b) / 2))
        r2.append(twos[-1] / ((raw_b + raw_c) / 2))
        inproc.append(time_in_process(ds, indices, plans))
    s = SETTINGS[setting]
    median = (lambda v: float(np.median(v)))
    return dict(setting=setting, clip=f"{s['clip_len']}x{s['frame_interval']}",
                stored=f"{s['size'][0]}x{s['size'][1]}" if s['size'] else '160x120',
                input=f"{s['crop']}x{s['crop']}", samples=samples, rounds=rounds,
                raw_decode_sps=median(raws), pipeline_1_worker_sps=median(ones),
                pipeline_2_workers_sps=median(twos), ratio_1_worker=median(r1),
                ratio_2_workers=median(r2),
                ratio_in_process=median([p / r for r, p in inproc]),
                per_round=dict(raw_decode=raws, pipeline_1_worker=ones, pipeline_2_workers=twos,
                               ratio_1_worker=r1, ratio_2_workers=r2,
                               in_process_raw_vs_pipeline=inproc))


def run_backends(workdir: Path, setting: str, samples: int, movies: int, seed: int,
                 rounds: int, backends) -> list:
    """Per decoder: raw decode and the 1-worker pipeline, with raw decord in every round."""
    root, ann_file = make_data(workdir, setting, movies)
    ds = build_dataset(root, ann_file, setting)
    rng = np.random.default_rng(seed)
    indices = rng.choice(len(ds), size=samples, replace=len(ds) < samples).tolist()
    plans = raw_decode_plan(ds, indices)
    time_raw(plans[:8])
    got = {b: dict(raw=[], pipe=[], vs_own=[], vs_decord=[]) for b in backends}
    for _ in range(rounds):
        for b in backends:
            decord_before = time_raw(plans, 'decord')
            raw = time_raw(plans, b)
            os.environ[video_io.BACKEND_ENV] = b
            try:
                np.random.seed(seed)
                pipe = time_pipeline(ds, indices, 1)
            finally:
                del os.environ[video_io.BACKEND_ENV]
            decord_after = time_raw(plans, 'decord')
            got[b]['raw'].append(raw)
            got[b]['pipe'].append(pipe)
            got[b]['vs_own'].append(pipe / raw)
            got[b]['vs_decord'].append(pipe / ((decord_before + decord_after) / 2))
    median = (lambda v: float(np.median(v)))
    return [dict(setting=setting, backend=b, samples=samples, rounds=rounds,
                 raw_decode_sps=median(g['raw']), pipeline_1_worker_sps=median(g['pipe']),
                 ratio_vs_own_raw=median(g['vs_own']),
                 ratio_vs_raw_decord=median(g['vs_decord']), per_round=g)
            for b, g in got.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--settings', nargs='+', default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument('--samples', type=int, default=48, help='samples per measurement')
    parser.add_argument('--rounds', type=int, default=5, help='interleaved rounds (median)')
    parser.add_argument('--movies', type=int, default=3, help='train movies used')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--backends', nargs='*', choices=video_io.BACKENDS, default=[],
                        help='also compare these decoders (second table)')
    parser.add_argument('--workdir', help='where the benchmark data goes (default: a temp dir)')
    parser.add_argument('--out', default=str(Path(__file__).resolve().parent / 'results'
                                              / 'data_speed.json'))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        rows = [run_setting(workdir, s, args.samples, args.movies, args.seed, args.rounds)
                for s in args.settings] if not args.backends else []
        backend_rows = [row for s in args.settings for row in run_backends(
            workdir, s, args.samples, args.movies, args.seed, args.rounds, args.backends)]
    load_after = os.getloadavg()

    header = ('setting', 'clip', 'stored', 'input', 'raw decode/s', '1 worker/s', 'ratio',
              '2 workers/s', 'ratio', 'in-process ratio')
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for r in rows:
        print(f"| {r['setting']} | {r['clip']} | {r['stored']} | {r['input']} | "
              f"{r['raw_decode_sps']:.1f} | {r['pipeline_1_worker_sps']:.1f} | "
              f"{r['ratio_1_worker']:.2f} | {r['pipeline_2_workers_sps']:.1f} | "
              f"{r['ratio_2_workers']:.2f} | {r['ratio_in_process']:.2f} |")
    if backend_rows:
        print('| setting | decoder | raw decode/s | 1 worker/s | ratio to own raw | '
              'ratio to raw decord |')
        print('|---|---|---|---|---|---|')
        for r in backend_rows:
            print(f"| {r['setting']} | {r['backend']} | {r['raw_decode_sps']:.1f} | "
                  f"{r['pipeline_1_worker_sps']:.1f} | {r['ratio_vs_own_raw']:.2f} | "
                  f"{r['ratio_vs_raw_decord']:.2f} |")
    print(f'samples/s; target ratio (1 worker) >= {TARGET_RATIO_ONE_WORKER}; '
          f'load average {load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} CPUs')
    versions = {}
    for name, module in (('decord', 'decord'), ('pyav', 'av'), ('torchcodec', 'torchcodec')):
        if video_io.backend_available(name):
            versions[name] = __import__(module).__version__
    result = dict(benchmark='data_speed', rows=rows, backend_rows=backend_rows,
                  target_ratio_1_worker=TARGET_RATIO_ONE_WORKER,
                  load_average=[load_before[0], load_after[0]], cpus=os.cpu_count(),
                  machine=platform.machine(), python=platform.python_version(),
                  decoders=versions, time=time.strftime('%Y-%m-%d %H:%M:%S UTC',
                                                                time.gmtime()))
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
