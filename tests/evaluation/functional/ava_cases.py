"""Generated AVA evaluation cases (files on disk) for the cross-checks."""
from pathlib import Path

import numpy as np

LABEL_MAP_IDS = (1, 2, 3, 5, 8, 12)


def write_label_map(path: Path, ids=LABEL_MAP_IDS) -> Path:
    path.write_text(''.join(f'item {{\n  name: "action{i}"\n  id: {i}\n}}\n' for i in ids))
    return path


def _box(rng, around=None):
    if around is None:
        x1, y1 = rng.uniform(0, 0.6, 2)
        w, h = rng.uniform(0.1, 0.4, 2)
        return np.round([x1, y1, x1 + w, y1 + h], 3)
    jitter = rng.normal(0, 0.05, 4)
    b = np.clip(np.asarray(around) + jitter, 0, 1)
    b = np.concatenate([np.minimum(b[:2], b[2:]), np.maximum(b[:2], b[2:])])
    return np.round(b, 3)


def make_case(tmp: Path, seed: int, many_rows: bool = True, score_decimals: int = 2):
    """Write gt.csv, det.csv, excl.csv, labels.pbtxt under ``tmp``; return their paths.

    The case has: tied scores (few decimals), keyframes with more than 50 rows, 2-column
    ground-truth and detection rows, labels outside the map, detections for keyframes
    absent from the ground truth, an excluded keyframe that has ground truth, timestamps
    written both as ``0902`` and ``902``, duplicated boxes.
    """
    rng = np.random.default_rng(seed)
    tmp.mkdir(parents=True, exist_ok=True)
    gt_lines, det_lines = [], []
    videos = [f'vid{seed}_{v}' for v in range(3)]
    keyframes = [(v, t) for v in videos for t in range(902, 902 + 5)]
    rng.shuffle(keyframes)
    gt_boxes = {}
    for i, (v, t) in enumerate(keyframes):
        if i % 7 == 3:
            gt_lines.append(f'{v},{t:04d}')  # annotated, nobody in it
            continue
        persons = []
        for pid in range(rng.integers(1, 4)):
            box = _box(rng)
            persons.append(box)
            for label in rng.choice(np.arange(1, 14), size=rng.integers(1, 3), replace=False):
                gt_lines.append(f'{v},{t:04d},{box[0]:.3f},{box[1]:.3f},{box[2]:.3f},'
                                f'{box[3]:.3f},{label},{pid}')
        gt_boxes[(v, t)] = persons
    order = rng.permutation(len(gt_lines))
    gt_lines = [gt_lines[i] for i in order]
    absent = [(f'novid{seed}', 1000 + k) for k in range(2)]
    fmt = f'{{:.{score_decimals}f}}'
    for v, t in list(gt_boxes) + absent + [keyframes[3]]:
        persons = gt_boxes.get((v, t), [_box(rng)])
        n_boxes = rng.integers(1, 5)
        labels_per_box = 45 if many_rows else 4
        ts = f'{t}' if rng.random() < 0.5 else f'{t:04d}'
        for _ in range(n_boxes):
            box = _box(rng, persons[rng.integers(len(persons))])
            for label in rng.integers(1, 14, size=labels_per_box):
                score = fmt.format(rng.uniform(0, 1))
                det_lines.append(f'{v},{ts},{box[0]:.3f},{box[1]:.3f},{box[2]:.3f},'
                                 f'{box[3]:.3f},{label},{score}')
                if rng.random() < 0.05:  # a duplicated row
                    det_lines.append(det_lines[-1])
    det_lines.append(f'{absent[0][0]},{absent[0][1]}')
    order = np.argsort(rng.permutation(len(det_lines)) // 40, kind='stable')
    det_lines = [det_lines[i] for i in order]
    excluded = list(gt_boxes)[1]
    paths = dict(gt=tmp / 'gt.csv', det=tmp / 'det.csv', excl=tmp / 'excl.csv',
                 labels=write_label_map(tmp / 'labels.pbtxt'))
    paths['gt'].write_text('\n'.join(gt_lines) + '\n')
    paths['det'].write_text('\n'.join(det_lines) + '\n')
    paths['excl'].write_text(f'{excluded[0]},{excluded[1]:04d}\n')
    return paths


def without_two_column_rows(src: Path, dst: Path) -> Path:
    """mmaction2 cannot read 2-column rows; give it the same file without them."""
    lines = [ln for ln in src.read_text().splitlines() if ln.count(',') != 1]
    dst.write_text('\n'.join(lines) + '\n')
    return dst
