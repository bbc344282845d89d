"""Score AVA detections: frame-level AP@0.5 per class and mAP.

Usage::

    python tools/eval_ava.py GT.csv DETS.csv --label-map MAP.pbtxt \\
        [--mode official|legacy] [--exclude EXCL.csv] [--out report.json] [--plot ap.png]

``official`` (default) scores as ActivityNet's ``get_ava_performance.py`` (top 50 rows per
keyframe, keyframes absent from the ground truth ignored, ...); ``legacy`` as mmaction2 1.x
and PySlowFast (no cap; ``--exclude`` is the excluded-timestamps CSV). Prints the per-class
table and the mAP. ``--out`` writes (atomically) a JSON report::

    {"mAP": float, "per_class": {"<class id>": float or null, ...}, "mode": "official",
     "categories": {...}, "class_names": {...}, "num_gt": {...}, "counts": {...}, "files": {...}}

``counts`` includes the rows skipped because their label is outside the label map.
``--plot`` draws the per-class AP bar chart (PNG). A malformed file stops with one error
naming the file and line (exit code 2), as do detections that share no video or no
keyframe with the ground truth (a wrong file or time offset, not a model scoring 0).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from videomae_det.evaluation.functional import FrameMAPResult, MODES, evaluate_frame_map
from videomae_det.formats import (read_detections, read_exclusions, read_groundtruth,
                                  read_label_map)
from videomae_det.utils import cli
from videomae_det.utils.atomic import atomic_open, atomic_write_text


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.ArgumentParser(
        description='Frame-level AP@0.5 per class and mAP of AVA detections.')
    parser.add_argument('groundtruth', type=Path, help='ground-truth CSV')
    parser.add_argument('detections', type=Path, help='detections (results) CSV')
    parser.add_argument('--label-map', type=Path, required=True,
                        help='pbtxt label map of the classes to score')
    parser.add_argument('--mode', choices=MODES, default='official')
    parser.add_argument('--exclude', type=Path, help='excluded-timestamps CSV')
    parser.add_argument('--out', type=Path, help='write a JSON report here')
    parser.add_argument('--plot', type=Path, help='write the per-class AP bar chart here')
    return parser.parse_args(argv)


def plot_per_class(result: FrameMAPResult, path: Path) -> None:
    """Bar chart of the per-class APs (classes left out of the mean are marked n/a)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    ids = list(result.per_class)
    values = [result.per_class[c] or 0.0 for c in ids]
    colours = ['tab:blue' if c <= 14 else 'tab:orange' if c <= 63 else 'tab:green'
               for c in ids]
    fig, ax = plt.subplots(figsize=(max(8, 0.22 * len(ids) + 2), 4.5))
    ax.bar(range(len(ids)), values, color=colours)
    for i, c in enumerate(ids):
        if result.per_class[c] is None:
            ax.text(i, 0.01, 'n/a', rotation=90, ha='center', va='bottom', fontsize=6)
    ax.axhline(result.mAP, color='k', linestyle='--', linewidth=1,
               label=f'mAP {result.mAP:.4f}')
    ax.set_xticks(range(len(ids)))
    ax.set_xticklabels([str(c) for c in ids], rotation=90, fontsize=6)
    ax.set_xlabel('AVA action id (blue: pose, orange: person-object, green: person-person)')
    ax.set_ylabel('AP@0.5')
    ax.set_ylim(0, 1)
    ax.set_title(f'AVA frame AP per class ({result.mode} mode)')
    ax.legend(loc='upper right')
    fig.tight_layout()
    with atomic_open(path, 'wb') as f:
        fig.savefig(f, format='png', dpi=120)
    plt.close(fig)


def _shown(values, limit: int = 5) -> str:
    values = sorted(values, key=str)
    return ', '.join(map(str, values[:limit])) + (', ...' if len(values) > limit else '')


def check_overlap(groundtruth, detections) -> None:
    """Raise :class:`cli.UsageError` when the detections share no video, or no keyframe,
    with the ground truth: every AP would be 0 for a reason that is not the model."""
    used = np.unique(detections.key_index)
    det_keys = {detections.keys[i] for i in used}
    if not det_keys:
        return  # no detection at all scores 0, as it should
    gt_keys = set(groundtruth.keys)
    gt_videos, det_videos = {v for v, _ in gt_keys}, {v for v, _ in det_keys}
    if not gt_videos & det_videos:
        raise cli.UsageError(
            f'{detections.path} and {groundtruth.path} have no video in common (detections: '
            f'{_shown(det_videos)}; ground truth: {_shown(gt_videos)}): wrong file?')
    if not gt_keys & det_keys:
        common = gt_videos & det_videos

        def span(keys) -> str:
            times = [t for v, t in keys if v in common]
            return f'{min(times)}..{max(times)}'
        raise cli.UsageError(
            f'{detections.path} and {groundtruth.path} have no keyframe in common: same '
            f'videos, but detection timestamps {span(det_keys)} vs ground truth '
            f'{span(gt_keys)} (a missing --time-offset?)')


def main(argv=None) -> int:
    return cli.run(_main, argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    cli.check_outputs({'--out': args.out, '--plot': args.plot},
                      {'groundtruth': args.groundtruth, 'detections': args.detections,
                       '--label-map': args.label_map, '--exclude': args.exclude})
    start = time.perf_counter()
    label_map = read_label_map(args.label_map)
    groundtruth = read_groundtruth(args.groundtruth)
    detections = read_detections(args.detections)
    check_overlap(groundtruth, detections)
    excluded = read_exclusions(args.exclude) if args.exclude else ()
    result = evaluate_frame_map(groundtruth, detections, label_map, args.mode, excluded)
    seconds = time.perf_counter() - start
    print(result.table())
    print(f'({seconds:.1f} s)')
    if args.out:
        report = result.to_dict()
        report['files'] = {
            'groundtruth': str(args.groundtruth), 'detections': str(args.detections),
            'label_map': str(args.label_map),
            'exclude': str(args.exclude) if args.exclude else None}
        atomic_write_text(args.out, json.dumps(report, indent=2) + '\n')
    if args.plot:
        plot_per_class(result, args.plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
