"""Frame-level AP@0.5 per class and mAP on AVA, as the official script and mmaction2 score.

Pure maths on :class:`~videomae_det.formats.AVARows` (no I/O), used
by the CSV tool and the training-loop metric alike.

``mode='official'`` is ActivityNet's ``get_ava_performance.py`` rule for rule:

* labels outside the label map are dropped first;
* detections of keyframes absent from the ground truth (2-column rows count as present)
  are ignored;
* per keyframe only 50 detections count: the reference streams the rows through a heap of
  ``(score, label, y1, x1, y2, x2)`` tuples, replacing the smallest tuple only for a
  strictly higher score, then stable-sorts the heap by descending score;
* detections whose box has no area (``x1 >= x2`` or ``y1 >= y2``) are then dropped;
* per keyframe and class, in that order, a detection takes the ground-truth box of highest
  IoU (the first on ties) and is a true positive if IoU >= 0.5 and the box is unclaimed
  (no fallback to the second best); IoU on plain areas, float64;
* per class the scores of all keyframes are concatenated (keyframes in order of first
  appearance in the detections), ranked with ``np.argsort`` reversed, precision made
  monotone, AP summed where recall changes (VOC all-point); classes without ground truth
  are left out of the mean (``None``), classes with ground truth but no detection score 0.

``mode='legacy'`` is mmaction2 1.x's ``ava_eval`` (also PySlowFast's): no cap, excluded
keyframes skipped, keyframes are those with ground-truth boxes (in ground-truth file order),
ties in a keyframe keep file order, IoU and scores in float32, ground-truth counts include
excluded keyframes, and classes that have no detection in an evaluated keyframe are left
out of the mean, as mmaction2 does. (mmaction2 cannot read 2-column rows; here they are
accepted and, as in mmaction2, a keyframe without boxes is not scored.)

Ties are reproduced exactly: which rows tied at the 50th place the official heap keeps
follows from its streaming rule (see ``_heap_cut``); where the heap's internal order
matters (tied scores of different boxes within one class of a keyframe) that keyframe is
replayed through ``heapq`` itself.
"""
import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np

from videomae_det.formats.box_csv import AVARows, Key

MODES = ('official', 'legacy')
TOP_K = 50
# AVA's action categories by id range.
CATEGORIES = {
    'pose': (1, 14),
    'person_object': (15, 63),
    'person_person': (64, 80),
}


@dataclass
class FrameMAPResult:
    """Result of :func:`evaluate_frame_map`.

    ``per_class`` maps every label-map id to its AP, or None where the class is left out
    of the mean. ``categories`` holds the mean AP of the pose / person-object /
    person-person classes. ``counts`` says what was read, skipped and scored.
    """
    mAP: float
    per_class: Dict[int, Optional[float]]
    categories: Dict[str, Optional[float]]
    mode: str
    class_names: Dict[int, str]
    num_gt: Dict[int, int]
    counts: Dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        """The per-class AP table, the category summaries and the mAP, as text."""
        width = max([len(n) for n in self.class_names.values()] + [26])
        lines = [f'{"id":>3}  {"action":<{width}}  {"AP":>7}  {"#GT":>7}']
        for c, ap in self.per_class.items():
            text = '   n/a' if ap is None else f'{ap:7.4f}'
            lines.append(f'{c:>3}  {self.class_names[c]:<{width}}  {text:>7}  '
                         f'{self.num_gt[c]:>7}')
        lines.append('')
        for name, (a, b) in CATEGORIES.items():
            value = self.categories[name]
            text = '   n/a' if value is None else f'{value:7.4f}'
            label = f'{name.replace("_", "-")} (ids {a}-{b})'
            lines.append(f'     {label:<{width}}  {text:>7}')
        scored = sum(ap is not None for ap in self.per_class.values())
        lines.append(f'mAP ({self.mode}, mean of {scored} classes): {self.mAP:.4f}')
        c = self.counts
        lines.append(
            f'detection rows: {c.get("detections", 0)}; skipped: '
            f'{c.get("detections_out_of_map", 0)} with labels outside the label map, '
            f'{c.get("detections_not_in_groundtruth", 0)} for keyframes absent from the '
            f'ground truth, {c.get("detections_excluded", 0)} for excluded keyframes'
            + (f', {c["detections_keyframe_without_boxes"]} for keyframes without '
               'ground-truth boxes' if c.get('detections_keyframe_without_boxes') else '')
            + (f', {c["detections_beyond_top_k"]} beyond the top {TOP_K} of a keyframe'
               if 'detections_beyond_top_k' in c else '')
            + (f', {c["detections_without_area"]} boxes without area'
               if 'detections_without_area' in c else '')
            + f'; scored: {c.get("detections_scored", 0)} on {c.get("keyframes_scored", 0)} '
            f'keyframes; ground-truth rows outside the label map: '
            f'{c.get("groundtruth_out_of_map", 0)}')
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        return {
            'mAP': self.mAP,
            'per_class': {str(k): v for k, v in self.per_class.items()},
            'mode': self.mode,
            'categories': dict(self.categories),
            'class_names': {str(k): v for k, v in self.class_names.items()},
            'num_gt': {str(k): v for k, v in self.num_gt.items()},
            'counts': dict(self.counts),
        }


# ---------------------------------------------------------------------------------------
# Building blocks (each one rule; tested alone).
# ---------------------------------------------------------------------------------------

def average_precision(scores: np.ndarray, is_tp: np.ndarray, num_gt: int) -> float:
    """VOC all-point AP of one class, exactly as the reference computes it.

    Args:
        scores: (n,) float array in the reference's concatenation order (the order matters
            for tied scores: ``np.argsort`` is not stable).
        is_tp: (n,) bool, true positives.
        num_gt: ground-truth boxes of the class (> 0).
    """
    order = np.argsort(scores)[::-1]
    tp = is_tp[order].astype(int)
    cum_tp = np.cumsum(tp)
    cum_fp = np.cumsum(1 - tp)
    precision = cum_tp.astype(float) / (cum_tp + cum_fp)
    recall = cum_tp.astype(float) / num_gt
    if not precision.size:
        return 0.0
    recall = np.concatenate([[0], recall, [1]])
    precision = np.concatenate([[0], precision, [0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # monotone
    changed = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[changed] - recall[changed - 1]) * precision[changed]))


def pairwise_iou_yx(det: np.ndarray, gt: np.ndarray, float32: bool = False) -> np.ndarray:
    """IoU of matched pairs of boxes given as (n, 4) ``[y1, x1, y2, x2]``; plain areas.

    ``float32=True`` reproduces mmaction2's arithmetic bit for bit: coordinates, their
    differences and the areas in float32, the intersection and the division in float64.
    """
    if float32:
        det = det.astype(np.float32)
        gt = gt.astype(np.float32)
    ih = np.maximum(0.0, np.minimum(det[:, 2], gt[:, 2]) - np.maximum(det[:, 0], gt[:, 0]))
    iw = np.maximum(0.0, np.minimum(det[:, 3], gt[:, 3]) - np.maximum(det[:, 1], gt[:, 1]))
    inter = ih.astype(np.float64) * iw.astype(np.float64)
    area_det = (det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1])
    area_gt = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    union = (area_det + area_gt) - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        return inter / union


def greedy_match(det_group: np.ndarray, det_yx: np.ndarray, gt_group: np.ndarray,
                 gt_yx: np.ndarray, iou_threshold: float = 0.5,
                 float32: bool = False) -> np.ndarray:
    """True positives of detections matched to ground truth within groups.

    A group is one (keyframe, class). ``det_group`` (D,) must be sorted, and within a
    group the detections in matching order (descending score); ``gt_group`` (G,) sorted,
    within a group in the reference's ground-truth order. Each detection takes the
    ground-truth box of highest IoU (the first on ties; a NaN IoU wins as in
    ``np.argmax``); it is a true positive if that IoU >= ``iou_threshold`` and no earlier
    detection of the group took the box. There is no fallback to the second-best box.

    Returns:
        (D,) bool.
    """
    lo = np.searchsorted(gt_group, det_group, 'left')
    count = np.searchsorted(gt_group, det_group, 'right') - lo
    has_gt = np.flatnonzero(count > 0)
    is_tp = np.zeros(len(det_group), bool)
    if len(has_gt) == 0:
        return is_tp
    count_h = count[has_gt]
    pair_det = np.repeat(has_gt, count_h)
    seg_start = np.concatenate([[0], np.cumsum(count_h)[:-1]])
    pair_gt = np.repeat(lo[has_gt] - seg_start, count_h) + np.arange(len(pair_det))
    iou = pairwise_iou_yx(det_yx[pair_det], gt_yx[pair_gt], float32)
    key = np.where(np.isnan(iou), np.inf, iou)  # np.argmax picks the first NaN
    seg_max = np.maximum.reduceat(key, seg_start)
    is_max = key == np.repeat(seg_max, count_h)
    first = np.minimum.reduceat(np.where(is_max, np.arange(len(key)), len(key)), seg_start)
    best_iou = iou[first]
    best_gt = pair_gt[first]
    with np.errstate(invalid='ignore'):
        cand = best_iou >= iou_threshold
    cand_idx = np.flatnonzero(cand)
    _, first_claim = np.unique(best_gt[cand_idx], return_index=True)
    is_tp[has_gt[cand_idx[first_claim]]] = True
    return is_tp


def _segments(sorted_ids: np.ndarray):
    """(starts, lengths) of runs of equal values in a sorted array."""
    if len(sorted_ids) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], sorted_ids[1:] != sorted_ids[:-1]]))
    lengths = np.diff(np.concatenate([starts, [len(sorted_ids)]]))
    return starts, lengths


def _sort_within_segments(values: np.ndarray, starts: np.ndarray,
                          lengths: np.ndarray) -> np.ndarray:
    """Permutation that stably sorts each contiguous segment by ``values`` (ascending)."""
    perm = np.arange(len(values))
    for length in np.unique(lengths):
        if length <= 1:
            continue
        idx = starts[lengths == length][:, None] + np.arange(length)
        order = np.argsort(values[idx], axis=1, kind='stable')
        perm[idx] = np.take_along_axis(idx, order, axis=1)
    return perm


def _reference_heap(rows: List[int], columns: List[list], capacity: int) -> List[int]:
    """Replay the official ``read_csv`` for one keyframe; returns row indices in its order.

    ``rows`` in file order; ``columns`` their score, label, y1, x1, y2, x2 (Python
    values). Rows with identical tuples are interchangeable, so mapping back by content
    is exact.
    """
    tuples = list(zip(*columns))
    heap: list = []
    for t in tuples:
        if capacity < 1 or len(heap) < capacity:
            heapq.heappush(heap, t)
        elif t[0] > heap[0][0]:
            heapq.heapreplace(heap, t)
    by_content = defaultdict(list)
    for r, t in zip(rows, tuples):
        by_content[t].append(r)
    return [by_content[t].pop() for t in sorted(heap, key=lambda t: -t[0])]


def _replay(keyframes: np.ndarray, rank_row: np.ndarray, rows: np.ndarray, table: AVARows,
            capacity: int) -> np.ndarray:
    """Reference order of ``rows`` keyframe by keyframe (see _reference_heap).

    ``rows``: every row the reference's heap sees for ``keyframes`` (sorted ranks).
    Returns row indices sorted by keyframe rank, reference order within a keyframe.
    """
    rows = rows[np.lexsort((rows, rank_row[rows]))]  # by keyframe, file order
    kf_sorted = rank_row[rows]
    lo = np.searchsorted(kf_sorted, keyframes, 'left')
    hi = np.searchsorted(kf_sorted, keyframes, 'right')
    row_list = rows.tolist()
    columns = [table.scores[rows].tolist(), table.labels[rows].tolist()] + [
        table.row_boxes(rows)[:, j].tolist() for j in (1, 0, 3, 2)]
    out = []
    for a, b in zip(lo.tolist(), hi.tolist()):
        out.extend(_reference_heap(row_list[a:b], [c[a:b] for c in columns], capacity))
    return np.asarray(out, np.int64)


# ---------------------------------------------------------------------------------------
# The evaluation.
# ---------------------------------------------------------------------------------------

def _first_row_rank(key_index: np.ndarray, mask: np.ndarray, num_keys: int) -> np.ndarray:
    """For each key, the rank of its first ``mask`` row among keys (-1: no such row)."""
    rows = np.flatnonzero(mask)
    keys = key_index[rows]
    rank = np.full(num_keys, -1, np.int64)
    if len(rows) == 0:
        return rank
    # Only the first row of each run of equal keys can be a first occurrence.
    heads = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    uniq, idx = np.unique(keys[heads], return_index=True)  # first occurrences (stable)
    first_row = rows[heads[idx]]
    rank[uniq[np.argsort(first_row, kind='stable')]] = np.arange(len(uniq))
    return rank


def evaluate_frame_map(groundtruth: AVARows, detections: AVARows,
                       label_map: Mapping[int, str], mode: str = 'official',
                       excluded_keys: Iterable[Key] = (), iou_threshold: float = 0.5,
                       top_k: int = TOP_K) -> FrameMAPResult:
    """Frame-level AP per class and mAP (see the module docstring for both modes).

    Args:
        groundtruth: ground-truth rows (``scores`` = person ids).
        detections: detection rows (``scores`` = scores).
        label_map: ``{action id: name}``; only these classes are scored.
        mode: 'official' or 'legacy'.
        excluded_keys: keyframes left out (the excluded-timestamps file). Legacy: as
            mmaction2. Official: dropped from ground truth and detections, as the 2018
            version of the official script did.
        iou_threshold: IoU for a true positive.
        top_k: detections per keyframe in official mode.

    Raises:
        ValueError: unknown mode, empty label map or an id < 1 in it, or no ground-truth
            box of a mapped class.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if not label_map:
        raise ValueError('the label map has no class')
    if min(label_map) < 1:
        raise ValueError(f'label map ids must be >= 1 (AVA ids are 1-based), got {min(label_map)}')
    official = mode == 'official'
    class_ids = np.array(sorted(label_map), np.int64)
    max_id = int(class_ids.max())
    excluded = set(excluded_keys)
    gt, det = groundtruth, detections
    counts: Dict[str, int] = {'detections': len(det), 'groundtruth_boxes': len(gt)}

    in_map = np.zeros(max_id + 2, bool)  # a lookup is much faster than np.isin here
    in_map[class_ids] = True
    gt_in = in_map[np.clip(gt.labels, 0, max_id + 1)]
    det_in = in_map[np.clip(det.labels, 0, max_id + 1)]
    if not gt_in.any():
        raise ValueError(f'{gt.path or "ground truth"}: no ground-truth box of a class in '
                         'the label map')
    counts['detections_out_of_map'] = int((~det_in).sum())
    counts['groundtruth_out_of_map'] = int((~gt_in).sum())
    gt_excl = np.array([k in excluded for k in gt.keys], bool)
    det_excl = np.array([k in excluded for k in det.keys], bool)
    gt_key_of = {k: i for i, k in enumerate(gt.keys)}
    det_to_gt = np.array([gt_key_of.get(k, -1) for k in det.keys], np.int64)

    # Keyframes scored, ranked in the reference's concatenation order; -1: not scored.
    if official:
        gt_used = gt_in & ~gt_excl[gt.key_index]
        rank = _first_row_rank(det.key_index, det_in, len(det.keys))
        rank[(det_to_gt < 0) | det_excl] = -1
        # Renumber densely over the keyframes that remain, keeping order.
        kept = np.flatnonzero(rank >= 0)
        dense = np.full(len(det.keys), -1, np.int64)
        dense[kept[np.argsort(rank[kept])]] = np.arange(len(kept))
        det_kf_rank = dense
        gt_kf_rank = np.full(len(gt.keys), -1, np.int64)
        gt_kf_rank[det_to_gt[kept]] = dense[kept]
    else:
        gt_used = gt_in  # mmaction2 counts ground truth of excluded keyframes too
        gt_kf_rank = _first_row_rank(gt.key_index, gt_in, len(gt.keys))
        gt_kf_rank[gt_excl] = -1
        kept = np.flatnonzero(gt_kf_rank >= 0)
        dense = np.full(len(gt.keys), -1, np.int64)
        dense[kept[np.argsort(gt_kf_rank[kept])]] = np.arange(len(kept))
        gt_kf_rank = dense
        det_kf_rank = np.where(det_to_gt >= 0, gt_kf_rank[np.maximum(det_to_gt, 0)], -1)
        det_kf_rank[det_excl] = -1
    counts['keyframes_scored'] = int((gt_kf_rank >= 0).sum())

    num_gt_arr = np.bincount(gt.labels[gt_used], minlength=max_id + 1)[:max_id + 1]

    # ---- detections: the rows that count, in matching order -------------------------
    det_rank_row = det_kf_rank[det.key_index]
    in_scored = det_in & (det_rank_row >= 0)
    counts['detections_not_in_groundtruth'] = int(
        (det_in & (det_to_gt[det.key_index] < 0)).sum())
    counts['detections_excluded'] = int(
        (det_in & (det_to_gt[det.key_index] >= 0) & det_excl[det.key_index]).sum())
    # Legacy only: keyframes the ground truth lists without a box (2-column rows).
    counts['detections_keyframe_without_boxes'] = (
        int((det_in & ~in_scored).sum()) - counts['detections_not_in_groundtruth']
        - counts['detections_excluded'])
    rows = np.flatnonzero(in_scored)
    rank_of = det_rank_row[rows]
    if (rank_of[1:] < rank_of[:-1]).any():
        rows = rows[np.argsort(rank_of, kind='stable')]  # by keyframe, file order
    if official:
        rows = _official_detection_order(rows, det_rank_row, det, top_k, max_id)
        counts['detections_beyond_top_k'] = int(in_scored.sum()) - len(rows)
        box = det.row_boxes(rows)
        valid = (box[:, 0] < box[:, 2]) & (box[:, 1] < box[:, 3])
        counts['detections_without_area'] = int((~valid).sum())
        rows = rows[valid]
    else:
        group = det_rank_row[rows] * (max_id + 1) + det.labels[rows]
        order = np.argsort(group, kind='stable')
        rows = rows[order]
        starts, lengths = _segments(group[order])
        rows = rows[_sort_within_segments(-det.scores[rows], starts, lengths)]
    counts['detections_scored'] = len(rows)
    det_group = det_rank_row[rows] * (max_id + 1) + det.labels[rows]

    # ---- ground truth of scored keyframes, in the reference's order --------------------
    gt_rank_row = gt_kf_rank[gt.key_index]
    g_rows = np.flatnonzero(gt_in & (gt_rank_row >= 0))
    g_rows = g_rows[np.lexsort((g_rows, -gt.scores[g_rows], gt_rank_row[g_rows]))]
    if official:
        g_rows = _official_groundtruth_order(g_rows, gt_rank_row, gt, max_id)
    gt_group = gt_rank_row[g_rows] * (max_id + 1) + gt.labels[g_rows]
    order = np.argsort(gt_group, kind='stable')
    g_rows, gt_group = g_rows[order], gt_group[order]

    yx = [1, 0, 3, 2]
    is_tp = greedy_match(det_group, det.row_boxes(rows)[:, yx], gt_group,
                         gt.row_boxes(g_rows)[:, yx],
                         iou_threshold, float32=not official)

    # ---- per class: concatenate in keyframe order, rank, AP ---------------------------
    labels = det.labels[rows]
    label_dtype = np.int16 if max_id < (1 << 15) else np.int64  # int16: radix sort
    by_class = np.argsort(labels.astype(label_dtype), kind='stable')
    labels = labels[by_class]
    scores = det.scores[rows][by_class]
    if not official:
        scores = scores.astype(np.float32)
    is_tp = is_tp[by_class]
    bounds = np.searchsorted(labels, class_ids), np.searchsorted(labels, class_ids, 'right')
    per_class: Dict[int, Optional[float]] = {}
    ap_array = np.full(max_id, np.nan)
    for c, lo, hi in zip(class_ids.tolist(), *bounds):
        n_gt = num_gt_arr[c]
        if n_gt == 0 or (not official and hi == lo):
            per_class[c] = None
            continue
        ap = average_precision(scores[lo:hi], is_tp[lo:hi], n_gt)
        per_class[c] = ap
        ap_array[c - 1] = ap
    scored = ~np.isnan(ap_array)
    mean_ap = float(np.nanmean(ap_array)) if scored.any() else 0.0
    categories = {}
    for name, (a, b) in CATEGORIES.items():
        vals = [v for c, v in per_class.items() if a <= c <= b and v is not None]
        categories[name] = float(np.mean(vals)) if vals else None
    counts['classes_scored'] = int(scored.sum())
    return FrameMAPResult(
        mAP=mean_ap, per_class=per_class, categories=categories, mode=mode,
        class_names={int(c): label_map[c] for c in class_ids.tolist()},
        num_gt={int(c): int(num_gt_arr[c]) for c in class_ids.tolist()}, counts=counts)


def _official_detection_order(rows: np.ndarray, rank_row: np.ndarray, det: AVARows,
                              top_k: int, max_id: int) -> np.ndarray:
    """Top-k rows per keyframe in the official script's order.

    ``rows`` are sorted by keyframe rank, file order within a keyframe. Returns the kept
    rows sorted by (keyframe, class), within that by descending score. Keyframes where the
    reference's heap could pick or order differently (tied scores at the k-th place, tied
    scores of different boxes in one class) are replayed through ``heapq``.
    """
    all_rows = rows
    kf = rank_row[rows]
    starts, lengths = _segments(kf)
    scores = det.scores[rows]
    keep = np.ones(len(rows), bool)
    for length in np.unique(lengths[lengths > top_k]):
        idx = starts[lengths == length][:, None] + np.arange(length)  # file order
        vals = scores[idx]
        kth = -np.partition(-vals, top_k - 1, axis=1)[:, top_k - 1]
        greater = vals > kth[:, None]
        ties = vals == kth[:, None]
        keep[idx] = greater | ties
        ambiguous = np.flatnonzero(greater.sum(axis=1) + ties.sum(axis=1) > top_k)
        if len(ambiguous):
            keep[idx[ambiguous]] = _heap_cut(
                idx[ambiguous], greater[ambiguous], ties[ambiguous], rows, det, top_k)
    replay = []
    rows, kf = rows[keep], kf[keep]
    starts, lengths = _segments(kf)
    rows = rows[_sort_within_segments(-det.scores[rows], starts, lengths)]
    group = rank_row[rows] * (max_id + 1) + det.labels[rows]
    order = np.argsort(group, kind='stable')
    rows, group = rows[order], group[order]
    s = det.scores[rows]
    tied = np.flatnonzero((group[1:] == group[:-1]) & (s[1:] == s[:-1]))
    differ = (det.row_boxes(rows[tied + 1]) != det.row_boxes(rows[tied])).any(axis=1)
    replay.extend(rank_row[rows[tied[differ] + 1]].tolist())
    if not replay:
        return rows
    replay_set = np.unique(np.asarray(replay, np.int64))
    in_replay = np.zeros(int(rank_row.max()) + 1, bool)
    in_replay[replay_set] = True
    normal = rows[~in_replay[rank_row[rows]]]
    full = all_rows[in_replay[rank_row[all_rows]]]
    out = np.concatenate([normal, _replay(replay_set, rank_row, full, det, top_k)])
    group = rank_row[out] * (max_id + 1) + det.labels[out]
    return out[np.argsort(group, kind='stable')]


def _heap_cut(idx: np.ndarray, greater: np.ndarray, ties: np.ndarray, rows: np.ndarray,
              det: AVARows, top_k: int) -> np.ndarray:
    """Which rows the official heap keeps when rows tie at the k-th score.

    Each row of ``idx`` is one keyframe's rows in file order; ``greater`` / ``ties`` mark
    scores above / equal to its k-th score. Streaming rows through the heap keeps every
    greater row; once k rows that are greater or tied have arrived, a tie no longer gets
    in and each later greater row evicts the smallest tuple ``(score, label, y1, x1, y2,
    x2)``. So the tied rows kept are the largest tuples among the tied rows that arrived
    among the first k greater-or-tied rows. Returns the keep mask shaped like ``idx``.
    """
    early = np.cumsum(greater | ties, axis=1) <= top_k
    cand_seg, cand_col = np.nonzero(ties & early)
    r = rows[idx[cand_seg, cand_col]]
    b = det.row_boxes(r)
    order = np.lexsort((b[:, 2], b[:, 3], b[:, 0], b[:, 1], det.labels[r], cand_seg))
    need = top_k - greater.sum(axis=1)
    seg_sorted = cand_seg[order]
    seg_end = np.searchsorted(seg_sorted, seg_sorted, 'right')
    kept = (seg_end - np.arange(len(order))) <= need[seg_sorted]
    keep = greater.copy()
    keep[seg_sorted[kept], cand_col[order][kept]] = True
    return keep


def _official_groundtruth_order(g_rows: np.ndarray, rank_row: np.ndarray, gt: AVARows,
                                max_id: int) -> np.ndarray:
    """Ground truth by keyframe, descending person id; the heap's order on ties.

    ``g_rows``: the mapped rows of scored keyframes sorted by (keyframe, -person id, file
    order). Only ties between different boxes of one class can change a result (through
    ``np.argmax`` on equal IoUs), so only those keyframes are replayed.
    """
    group = rank_row[g_rows] * (max_id + 1) + gt.labels[g_rows]
    order = np.argsort(group, kind='stable')
    r, g = g_rows[order], group[order]
    tied = np.flatnonzero((g[1:] == g[:-1]) & (gt.scores[r[1:]] == gt.scores[r[:-1]]))
    tied = tied[(gt.row_boxes(r[tied + 1]) != gt.row_boxes(r[tied])).any(axis=1)]
    if not len(tied):
        return g_rows
    replay_set = np.unique(rank_row[r[tied + 1]])
    in_replay = np.isin(rank_row[g_rows], replay_set)
    out = np.concatenate([g_rows[~in_replay],
                          _replay(replay_set, rank_row, g_rows[in_replay], gt, 0)])
    return out[np.argsort(rank_row[out], kind='stable')]


def rows_from_predictions(keys: Sequence[Key], bboxes: Sequence[np.ndarray],
                          scores: Sequence[np.ndarray], class_ids: Optional[Sequence[int]] = None,
                          box_decimals: Optional[int] = None,
                          score_decimals: Optional[int] = None) -> AVARows:
    """Detector outputs -> detection rows (what the results CSV holds), without I/O.

    Args:
        keys: per keyframe ``(video_id, timestamp)``.
        bboxes: per keyframe (M, 4) xyxy normalised boxes (clipped to [0, 1] here).
        scores: per keyframe (M, C) scores in [0, 1]; column ``i`` is action id ``i + 1``.
        class_ids: ids to emit (e.g. the label map's); default all C.
        box_decimals / score_decimals: round as the CSV writer does, so the metric scores
            exactly what it writes.

    Rows come keyframe by keyframe, class-major (for each class, each box), the order the
    CSV writer keeps.
    """
    from videomae_det.formats.box_csv import quantize
    n_kf = len(keys)
    counts = np.array([len(b) for b in bboxes], np.int64)
    num_cols = max((np.asarray(s).shape[1] for s in scores if len(s)), default=80)
    cols = (np.arange(num_cols) if class_ids is None else
            np.asarray(sorted(class_ids), np.int64) - 1)
    cols = cols[(cols >= 0) & (cols < num_cols)]
    all_boxes = (np.concatenate([np.asarray(b, np.float64).reshape(-1, 4) for b in bboxes])
                 if n_kf else np.zeros((0, 4)))
    all_scores = (np.concatenate([np.asarray(s, np.float64).reshape(-1, num_cols)
                                  for s in scores]) if n_kf else np.zeros((0, num_cols)))
    if not np.isfinite(all_scores).all():
        bad = int(np.flatnonzero(~np.isfinite(all_scores).all(axis=1))[0])
        k = int(np.searchsorted(np.cumsum(counts), bad, 'right'))
        raise ValueError(f'non-finite predicted score for keyframe {keys[k]}')
    if (all_scores < 0).any() or (all_scores > 1).any():
        raise ValueError('predicted scores must be probabilities in [0, 1]')
    all_boxes = np.clip(all_boxes, 0.0, 1.0)
    all_boxes = np.concatenate([np.minimum(all_boxes[:, :2], all_boxes[:, 2:]),
                                np.maximum(all_boxes[:, :2], all_boxes[:, 2:])], axis=1)
    if box_decimals is not None:
        all_boxes = quantize(all_boxes, box_decimals)
    if score_decimals is not None:
        all_scores = quantize(all_scores, score_decimals)
    # Rows run keyframe by keyframe, then class by class, then box by box: a block of
    # M rows per (keyframe, class).
    nc = len(cols)
    block_len = np.repeat(counts, nc)  # (K * C,)
    n = int(block_len.sum())
    block_start = np.cumsum(block_len) - block_len
    box_start = np.cumsum(counts) - counts
    in_block = np.arange(n, dtype=np.int64) - np.repeat(block_start, block_len)
    box = np.repeat(np.repeat(box_start, nc), block_len) + in_block
    col = np.repeat(np.tile(cols, n_kf), block_len)
    key_index = np.repeat(np.arange(n_kf, dtype=np.int32), counts * nc)
    return AVARows(
        keys=list(keys), key_index=key_index, boxes=all_boxes, labels=col + 1,
        scores=all_scores.ravel()[box * num_cols + col], path=None,
        box_index=box.astype(np.int32))


__all__ = [
    'CATEGORIES', 'FrameMAPResult', 'MODES', 'TOP_K', 'average_precision', 'evaluate_frame_map',
    'greedy_match', 'pairwise_iou_yx', 'rows_from_predictions'
]
