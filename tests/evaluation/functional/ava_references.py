"""Reference scorers for the cross-checks.

* :func:`mmaction_legacy` runs mmaction2 1.2.0's ``ava_eval`` itself (a test-only
  dependency) and records its per-class APs.
* :func:`naive_official` is a deliberately plain, loop-per-keyframe scorer written from the
  official protocol (DESIGN.md, "Evaluation protocol"): slow, obviously shaped like the
  rules, and independent of the vectorised code it checks.
"""
import contextlib
import csv
import heapq
import io
import re
import warnings
from collections import Counter, defaultdict
from decimal import Decimal

import numpy as np

from videomae_det.formats import read_label_map

from ava_cases import without_two_column_rows


class _SerialPool:
    """Stands in for mmaction2's ``multiprocessing.Pool(32)``: same maths, one process."""

    def __init__(self, *args, **kwargs):
        pass

    def map(self, fn, items):
        return list(map(fn, items))


def mmaction_legacy(paths, tmp, monkeypatch, exclude=True):
    """mmaction2's ``ava_eval`` on the case -> (overall, per-class {id: AP}, summaries)."""
    from mmaction.evaluation.functional import ava_utils
    gt = without_two_column_rows(paths['gt'], tmp / 'gt_mm.csv')
    det = without_two_column_rows(paths['det'], tmp / 'det_mm.csv')
    recorded = []
    original = ava_utils.metrics.compute_average_precision

    def record(precision, recall):
        ap = original(precision, recall)
        recorded.append(ap)
        return ap

    # numpy 2 removed np.NAN, which mmaction2 returns for a class with no ground truth.
    monkeypatch.setattr(np, 'NAN', np.nan, raising=False)
    monkeypatch.setattr(ava_utils.multiprocessing, 'Pool', _SerialPool)
    monkeypatch.setattr(ava_utils.metrics, 'compute_average_precision', record)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), np.errstate(all='ignore'), \
            warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # its nanmean of empty categories
        results = ava_utils.ava_eval(str(det), 'mAP', str(paths['labels']), str(gt),
                                     str(paths['excl']) if exclude else None, verbose=False)
    ids = [int(m) for m in re.findall(r'Index: (\d+), Action', out.getvalue())]
    assert len(ids) == len(recorded)
    return results, dict(zip(ids, recorded))


def _key(video, ts):
    return video, Decimal(ts)


def _iou(a, b):
    """Boxes [y1, x1, y2, x2]; plain areas."""
    ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union


def _voc_ap(scores, tps, num_gt):
    order = np.argsort(np.asarray(scores, float))[::-1]
    tp_sorted = [tps[i] for i in order]
    precision, recall, n_tp = [], [], 0
    for i, tp in enumerate(tp_sorted):
        n_tp += tp
        precision.append(n_tp / (i + 1))
        recall.append(n_tp / num_gt)
    if not precision:
        return 0.0
    precision = [0.0] + precision + [0.0]
    recall = [0.0] + recall + [1.0]
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    # Summed with np.sum over the terms, as the reference does (pairwise summation).
    return float(np.sum([(recall[i] - recall[i - 1]) * precision[i]
                         for i in range(1, len(recall)) if recall[i] != recall[i - 1]]))


def naive_official(gt_path, det_path, label_path, excluded=(), top_k=50):
    """Per-class APs and mAP of the official protocol, one keyframe at a time."""
    ids = set(read_label_map(label_path))
    excluded = {_key(v, t) for v, t in excluded}
    gt_keys, gt = set(), defaultdict(list)
    with open(gt_path) as f:
        for row in csv.reader(f):
            k = _key(row[0], row[1])
            gt_keys.add(k)
            if len(row) == 2 or int(row[6]) not in ids:
                continue
            pid = float(row[7]) if len(row) == 8 else 1.0
            x1, y1, x2, y2 = map(float, row[2:6])
            heapq.heappush(gt[k], (pid, int(row[6]), y1, x1, y2, x2))
    det = {}
    with open(det_path) as f:
        for row in csv.reader(f):
            if len(row) == 2 or int(row[6]) not in ids:
                continue
            k = _key(row[0], row[1])
            x1, y1, x2, y2 = map(float, row[2:6])
            t = (float(row[7]) if len(row) == 8 else 1.0, int(row[6]), y1, x1, y2, x2)
            heap = det.setdefault(k, [])
            if len(heap) < top_k:
                heapq.heappush(heap, t)
            elif t[0] > heap[0][0]:
                heapq.heapreplace(heap, t)
    num_gt = Counter(t[1] for k, h in gt.items() if k not in excluded for t in h)
    scores, tps = defaultdict(list), defaultdict(list)
    for k, heap in det.items():
        if k not in gt_keys or k in excluded:
            continue
        dets = [t for t in sorted(heap, key=lambda t: -t[0]) if t[2] < t[4] and t[3] < t[5]]
        gts = sorted(gt.get(k, []), key=lambda t: -t[0])
        for c in sorted({t[1] for t in dets}):
            boxes = [g[2:] for g in gts if g[1] == c]
            claimed = [False] * len(boxes)
            for t in dets:
                if t[1] != c:
                    continue
                tp = False
                if boxes:
                    ious = [_iou(t[2:], b) for b in boxes]
                    j = int(np.argmax(ious))
                    if ious[j] >= 0.5 and not claimed[j]:
                        claimed[j] = tp = True
                scores[c].append(t[0])
                tps[c].append(tp)
    per_class = {c: (_voc_ap(scores[c], tps[c], num_gt[c]) if num_gt[c] else None)
                 for c in sorted(ids)}
    values = [v for v in per_class.values() if v is not None]
    return float(np.mean(values)), per_class
