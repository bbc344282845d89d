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
naming the file and line (exit code 2).
"""
import argparse
import json
import sys
import time
from pathlib import Path

from videomae_det.evaluation.functional import FrameMAPResult, MODES, evaluate_frame_map
from videomae_det.formats import (AVAFormatError, read_detections, read_exclusions,
                                  read_groundtruth, read_label_map)
from videomae_det.utils.atomic import atomic_open, atomic_write_text


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
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


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        label_map = read_label_map(args.label_map)
        groundtruth = read_groundtruth(args.groundtruth)
        detections = read_detections(args.detections)
        excluded = read_exclusions(args.exclude) if args.exclude else ()
        result = evaluate_frame_map(groundtruth, detections, label_map, args.mode, excluded)
    except (AVAFormatError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
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
