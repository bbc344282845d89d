"""Speed and memory of AVA frame-mAP evaluation at AVA-val scale.

Generates an AVA-val-sized case (64 videos x 897 keyframes, about 3 detected boxes per
keyframe with scores for all 80 classes: about 14M detection rows), then times, each in a
fresh subprocess (so peak RSS is its own):

* ``ours_memory``: our in-memory evaluation from per-keyframe arrays (what the training
  loop's metric does), official mode;
* ``ours_csv_official`` / ``ours_csv_legacy``: our CSV -> mAP (read both CSVs + score);
* ``mmaction2``: mmaction2 1.2.0's ``ava_eval`` on the same files (legacy protocol). If
  its full run is projected past 10 minutes it runs on a sub-sample of the videos, and our
  CSV -> mAP (legacy) is timed on the same sub-sample for the ratio; the output says so.

Cold start: a user runs a command, so the headline ratio is of whole processes, launch to
exit (``process_seconds``): ``tools/eval_ava.py --mode legacy`` (``ours_tool_legacy``)
against a process that imports mmaction2 and runs ``ava_eval``; interpreter start and
imports count for both.

Prints a table and writes ``benchmarks/results/eval_speed.json`` (``--results`` names
another file; the quarter-val case is ``--videos 16 --results eval_speed_quarter.json``).

    python benchmarks/eval_speed.py [--videos 64] [--work-dir /tmp/ava_eval_bench]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videomae_det.assets import AVA_LABEL_MAP  # noqa: E402
from videomae_det.evaluation.functional import (evaluate_frame_map,  # noqa: E402
                                                rows_from_predictions)
from videomae_det.formats import (format_box_csv, read_detections,  # noqa: E402
                                  read_groundtruth, read_label_map)
from videomae_det.utils.atomic import atomic_open, atomic_write_text  # noqa: E402

KEYFRAMES = range(902, 1799)  # 897 keyframes per video
MMACTION_BUDGET_S = 600.0
SCORE_DECIMALS = 4  # as mmaction2's results2csv writes them: many tied scores


# ---------------------------------------------------------------------------------------
# Case generation (vectorised; the 14M-row file takes seconds, not minutes).
# ---------------------------------------------------------------------------------------

def make_arrays(num_videos: int, seed: int = 0):
    """Ground truth and predictions as arrays.

    Returns dict with ``keys`` (K,), ground truth per row (key index, xyxy box, label,
    person id) and predictions per box (key index, xyxy box, (B, 80) scores).
    """
    rng = np.random.default_rng(seed)
    map_ids = np.array(sorted(read_label_map(AVA_LABEL_MAP)))
    keys = [(f'vid{v:03d}_{rng.integers(1 << 30):09x}', t) for v in range(num_videos)
            for t in KEYFRAMES]
    k = len(keys)
    persons = rng.integers(1, 5, k)  # people per keyframe
    p_key = np.repeat(np.arange(k), persons)
    p_id = np.arange(len(p_key)) - np.repeat(np.cumsum(persons) - persons, persons)
    xy = rng.uniform(0.0, 0.6, (len(p_key), 2))
    wh = rng.uniform(0.1, 0.4, (len(p_key), 2))
    p_box = np.round(np.concatenate([xy, np.minimum(xy + wh, 1.0)], axis=1), 3)
    # 1-3 actions per person, mostly in the 60-class map (the real files hold all 80).
    n_act = rng.integers(1, 4, len(p_key))
    g_person = np.repeat(np.arange(len(p_key)), n_act)
    g_label = np.where(rng.random(len(g_person)) < 0.9,
                       rng.choice(map_ids, len(g_person)), rng.integers(1, 81, len(g_person)))
    # Detections: about 3 per keyframe, most near a person, some elsewhere.
    n_det = rng.poisson(3.0, k).clip(1, 8)
    d_key = np.repeat(np.arange(k), n_det)
    first_person = np.cumsum(persons) - persons
    near = first_person[d_key] + rng.integers(0, 1 << 20, len(d_key)) % persons[d_key]
    d_box = p_box[near] + rng.normal(0, 0.03, (len(d_key), 4))
    stray = rng.random(len(d_key)) < 0.2
    d_box[stray] = np.concatenate([xy[:stray.sum()], xy[:stray.sum()] + 0.2], axis=1)
    d_box = np.clip(d_box, 0, 1)
    d_box = np.round(np.concatenate([np.minimum(d_box[:, :2], d_box[:, 2:]),
                                     np.maximum(d_box[:, :2], d_box[:, 2:])], axis=1), 3)
    scores = rng.beta(0.4, 4.0, (len(d_key), 80)) * rng.uniform(0.8, 1.0, (len(d_key), 1))
    # The actions of the person a detection covers score higher.
    g_start = np.cumsum(n_act) - n_act
    covered = np.flatnonzero(~stray)
    reps = n_act[near[covered]]
    det_rep = np.repeat(covered, reps)
    offset = np.arange(len(det_rep)) - np.repeat(np.cumsum(reps) - reps, reps)
    true_label = g_label[np.repeat(g_start[near[covered]], reps) + offset]
    scores[det_rep, true_label - 1] = rng.uniform(0.2, 1.0, len(det_rep))
    return dict(keys=keys, gt_key=p_key[g_person], gt_box=p_box[g_person], gt_label=g_label,
                gt_person=p_id[g_person], det_key=d_key, det_box=d_box, det_scores=scores)


def _keyframe_blocks(arrays, block: int):
    """(keys, per-keyframe boxes, per-keyframe (M, 80) scores) for blocks of keyframes."""
    keys = arrays['keys']
    bounds = np.searchsorted(arrays['det_key'], np.arange(len(keys) + 1))
    for s in range(0, len(keys), block):
        e = min(s + block, len(keys))
        yield (keys[s:e],
               [arrays['det_box'][bounds[i]:bounds[i + 1]] for i in range(s, e)],
               [arrays['det_scores'][bounds[i]:bounds[i + 1]] for i in range(s, e)])


def write_case(arrays, work: Path):
    work.mkdir(parents=True, exist_ok=True)
    keys = arrays['keys']
    lines = [f'{keys[k][0]},{keys[k][1]:04d},{b[0]:.3f},{b[1]:.3f},{b[2]:.3f},{b[3]:.3f},{l},{p}'
             for k, b, l, p in zip(arrays['gt_key'].tolist(), arrays['gt_box'].tolist(),
                                   arrays['gt_label'].tolist(), arrays['gt_person'].tolist())]
    atomic_write_text(work / 'gt.csv', '\n'.join(lines) + '\n')
    with atomic_open(work / 'det.csv', 'wb') as f:
        for block in _keyframe_blocks(arrays, 4000):
            rows = rows_from_predictions(*block, box_decimals=3, score_decimals=SCORE_DECIMALS)
            f.write(format_box_csv(rows.keys, rows.key_index, rows.row_boxes(), rows.labels,
                                   rows.scores, box_decimals=3, score_decimals=SCORE_DECIMALS))
    return work / 'gt.csv', work / 'det.csv'


def subsample(src: Path, dst: Path, num_videos: int) -> Path:
    """The rows of the first ``num_videos`` videos (files are written video by video)."""
    prefixes = tuple(f'vid{v:03d}_'.encode() for v in range(num_videos))
    with open(src, 'rb') as f, atomic_open(dst, 'wb') as out:
        for line in f:
            if line.startswith(prefixes):
                out.write(line)
    return dst


# ---------------------------------------------------------------------------------------
# Contenders (each runs in its own process).
# ---------------------------------------------------------------------------------------

def _peak_rss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


def _cpu_seconds() -> float:
    """CPU time of this process and its children (finished or alive: mmaction2 leaves its
    pool of 32 workers running).

    On a shared machine wall time mostly measures the other jobs; CPU time does not.
    """
    import psutil
    total = sum(getattr(resource.getrusage(who), f) for who in
                (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for f in ('ru_utime', 'ru_stime'))
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def run_contender(name: str, work: Path, gt: Path, det: Path, num_videos: int) -> dict:
    label_map_path = AVA_LABEL_MAP
    if name == 'ours_memory':
        arrays = make_arrays(num_videos)
        gt_rows = read_groundtruth(gt)
        label_map = read_label_map(label_map_path)
        (keys, bboxes, scores), = _keyframe_blocks(arrays, len(arrays['keys']))
        rss_before = _peak_rss_mb()
        start, cpu = time.perf_counter(), _cpu_seconds()
        det_rows = rows_from_predictions(keys, bboxes, scores, class_ids=label_map,
                                         box_decimals=3, score_decimals=SCORE_DECIMALS)
        result = evaluate_frame_map(gt_rows, det_rows, label_map, 'official')
        seconds = time.perf_counter() - start
        return dict(seconds=seconds, cpu_seconds=_cpu_seconds() - cpu, mAP=result.mAP,
                    rows=len(det_rows), peak_rss_mb=_peak_rss_mb(), rss_before_mb=rss_before)
    if name.startswith('ours_csv_'):
        mode = name[len('ours_csv_'):]
        start, cpu = time.perf_counter(), _cpu_seconds()
        label_map = read_label_map(label_map_path)
        gt_rows = read_groundtruth(gt)
        det_rows = read_detections(det)
        parsed, parsed_cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        result = evaluate_frame_map(gt_rows, det_rows, label_map, mode)
        seconds = time.perf_counter() - start
        return dict(seconds=seconds, cpu_seconds=_cpu_seconds() - cpu, parse_seconds=parsed,
                    parse_cpu_seconds=parsed_cpu, mAP=result.mAP, rows=len(det_rows),
                    peak_rss_mb=_peak_rss_mb())
    if name == 'mmaction2':
        import contextlib
        import io
        from mmaction.evaluation.functional import ava_utils
        np.NAN = np.nan  # mmaction2 1.2.0 still uses np.NAN, gone in numpy 2
        start, cpu = time.perf_counter(), _cpu_seconds()
        with contextlib.redirect_stdout(io.StringIO()):
            results = ava_utils.ava_eval(str(det), 'mAP', str(label_map_path), str(gt), None,
                                         verbose=False)
        seconds = time.perf_counter() - start
        return dict(seconds=seconds, cpu_seconds=_cpu_seconds() - cpu,
                    mAP=float(results['overall']), peak_rss_mb=_peak_rss_mb(),
                    peak_rss_workers_mb=_peak_rss_mb(resource.RUSAGE_CHILDREN))
    raise ValueError(name)


def in_subprocess(name: str, work: Path, gt: Path, det: Path, num_videos: int) -> dict:
    """Run one contender in a fresh interpreter; ``process_seconds`` is launch to exit."""
    cmd = [sys.executable, __file__, '--contender', name, '--work-dir', str(work),
           '--gt', str(gt), '--det', str(det), '--videos', str(num_videos)]
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result['process_seconds'] = time.perf_counter() - start
    return result


def run_tool(work: Path, gt: Path, det: Path, mode: str) -> dict:
    """``tools/eval_ava.py`` as a user runs it, timed from launch to exit."""
    report = work / f'tool_report_{mode}.json'
    cmd = [sys.executable, str(REPO / 'tools' / 'eval_ava.py'), str(gt), str(det),
           '--label-map', str(AVA_LABEL_MAP), '--mode', mode, '--out', str(report)]
    start, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True, text=True,
                   env={**os.environ, 'PYTHONPATH': str(REPO)})
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return dict(seconds=seconds, process_seconds=seconds, cpu_seconds=cpu,
                mAP=json.loads(report.read_text())['mAP'], peak_rss_mb=after.ru_maxrss / 1024)


def count_lines(path: Path) -> int:
    with open(path, 'rb') as f:
        return sum(chunk.count(b'\n') for chunk in iter(lambda: f.read(1 << 24), b''))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--videos', type=int, default=64)
    parser.add_argument('--work-dir', type=Path, default=Path('/tmp/ava_eval_bench'))
    parser.add_argument('--probe-videos', type=int, default=2,
                        help='videos mmaction2 is first timed on to project its full run')
    parser.add_argument('--results', default='eval_speed.json',
                        help='file name of the JSON written to benchmarks/results/')
    parser.add_argument('--contender', help=argparse.SUPPRESS)
    parser.add_argument('--gt', type=Path, help=argparse.SUPPRESS)
    parser.add_argument('--det', type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(run_contender(args.contender, args.work_dir, args.gt, args.det,
                                       args.videos)))
        return

    work = args.work_dir
    start = time.perf_counter()
    arrays = make_arrays(args.videos)
    gt, det = write_case(arrays, work)
    gen_seconds = time.perf_counter() - start
    det_rows = count_lines(det)
    print(f'generated {len(arrays["keys"])} keyframes, {det_rows} detection rows '
          f'({det.stat().st_size / 1e6:.0f} MB) in {gen_seconds:.1f} s', flush=True)

    runs = {}
    for name in ('ours_memory', 'ours_csv_official', 'ours_csv_legacy'):
        runs[name] = in_subprocess(name, work, gt, det, args.videos)
        print(name, runs[name], flush=True)
    runs['ours_tool_legacy'] = run_tool(work, gt, det, 'legacy')
    print('ours_tool_legacy', runs['ours_tool_legacy'], flush=True)

    # mmaction2: probe on a few videos, project linearly, sub-sample if over budget.
    probe_gt = subsample(gt, work / f'gt_{args.probe_videos}v.csv', args.probe_videos)
    probe_det = subsample(det, work / f'det_{args.probe_videos}v.csv', args.probe_videos)
    probe = in_subprocess('mmaction2', work, probe_gt, probe_det, args.probe_videos)
    projected = probe['seconds'] * args.videos / args.probe_videos
    print(f'mmaction2 on {args.probe_videos} videos: {probe["seconds"]:.1f} s, projected '
          f'{projected:.0f} s for {args.videos}', flush=True)
    if projected <= MMACTION_BUDGET_S:
        mm_videos, mm_gt, mm_det = args.videos, gt, det
    else:
        mm_videos = max(args.probe_videos,
                        int(args.videos * MMACTION_BUDGET_S / projected * 0.8))
        mm_gt = subsample(gt, work / f'gt_{mm_videos}v.csv', mm_videos)
        mm_det = subsample(det, work / f'det_{mm_videos}v.csv', mm_videos)
    runs['mmaction2'] = in_subprocess('mmaction2', work, mm_gt, mm_det, mm_videos)
    runs['ours_csv_legacy_same_files'] = (
        runs['ours_csv_legacy'] if mm_videos == args.videos else
        in_subprocess('ours_csv_legacy', work, mm_gt, mm_det, mm_videos))
    runs['ours_tool_legacy_same_files'] = (
        runs['ours_tool_legacy'] if mm_videos == args.videos else
        run_tool(work, mm_gt, mm_det, 'legacy'))
    mm, ours_same = runs['mmaction2'], runs['ours_csv_legacy_same_files']
    ratio = mm['seconds'] / ours_same['seconds']
    cold_ratio = mm['process_seconds'] / runs['ours_tool_legacy_same_files']['process_seconds']
    cpu_ratio = mm['cpu_seconds'] / ours_same['cpu_seconds']
    same_map = abs(mm['mAP'] - ours_same['mAP']) < 1e-9
    subsampled = mm_videos != args.videos
    note = (f'mmaction2 projected {projected:.0f} s > {MMACTION_BUDGET_S:.0f} s on the full case: '
            f'mmaction2 and the ratio use a sub-sample of {mm_videos}/{args.videos} videos'
            if subsampled else 'mmaction2 ran on the full case')

    rows = [
        ('ours, in-memory (official)', runs['ours_memory'], args.videos),
        ('ours, CSV -> mAP (official)', runs['ours_csv_official'], args.videos),
        ('ours, CSV -> mAP (legacy)', runs['ours_csv_legacy'], args.videos),
        ('ours, tools/eval_ava.py --mode legacy', runs['ours_tool_legacy'], args.videos),
    ]
    if subsampled:
        rows.append(('ours, CSV -> mAP (legacy), sub-sample', ours_same, mm_videos))
    rows.append(('mmaction2 ava_eval (legacy)', mm, mm_videos))
    print()
    print('| contender | videos | wall s | process wall s | CPU s | peak RSS (MB) | mAP |')
    print('|---|---|---|---|---|---|---|')
    for label, r, v in rows:
        rss = f'{r["peak_rss_mb"]:.0f}'
        if 'peak_rss_workers_mb' in r:
            rss += f' (+ {r["peak_rss_workers_mb"]:.0f} largest worker)'
        print(f'| {label} | {v} | {r["seconds"]:.1f} | {r["process_seconds"]:.1f} | '
              f'{r["cpu_seconds"]:.1f} | {rss} | {r["mAP"]:.6f} |')
    print()
    print(f'CSV -> mAP speed-up over mmaction2 on the same files: {ratio:.1f}x wall, '
          f'{cpu_ratio:.1f}x CPU; identical mAP: {same_map} '
          f'({ours_same["mAP"]!r} vs {mm["mAP"]!r})')
    print(f'cold start, launch to exit: tools/eval_ava.py is {cold_ratio:.1f}x a process '
          f'running mmaction2 ava_eval')
    load = os.getloadavg()
    print(f'load average at the end: {load[0]:.1f} on {os.cpu_count()} cores')
    print(note)
    out = dict(videos=args.videos, keyframes=len(arrays['keys']), detection_rows=det_rows,
               det_csv_mb=det.stat().st_size / 1e6, generation_seconds=gen_seconds,
               runs=runs, mmaction2_videos=mm_videos, mmaction2_projected_seconds=projected,
               speedup_csv_vs_mmaction2=ratio, speedup_csv_vs_mmaction2_cpu=cpu_ratio,
               speedup_tool_vs_mmaction2_process=cold_ratio,
               identical_map=same_map, note=note, cpu_count=os.cpu_count(),
               load_average=os.getloadavg())
    atomic_write_text(REPO / 'benchmarks' / 'results' / args.results,
                      json.dumps(out, indent=2) + '\n')


if __name__ == '__main__':
    main()
