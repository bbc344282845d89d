"""Tracking and segment quality on a dataset that knows who is who (mini-AVA).

The ground truth CSV's ``person_id`` is an identity (mini-AVA: the same figure through the
movie), so the keyframe boxes of a movie are a multi-object-tracking ground truth at the
keyframe rate. The tracker runs on the person detections of the same keyframes; the
metrics are the MOT Challenge ones, computed by ``motmetrics`` (py-motmetrics, the
reference implementation the MOT benchmarks use) with a match at box IoU ≥ 0.5: IDF1
(identity F1: how much of each true identity one track covers), MOTA (1 − (misses +
false positives + ID switches) / true boxes) and the number of ID switches.

Segment quality compares each true (person, action) segment, built from the ground-truth
labels by the same rule as predicted ones (:func:`~videomae_det.tracking.segments.
runs_to_segments`), with the predicted segments of the same action on the track that
covers that person most (the IDF1 identity mapping): its temporal IoU with the best one
(0 when none). We report the mean over true segments and the share above 0.5 (recall),
and the share of predicted segments that reach 0.5 with some true segment of their
person (precision).
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from videomae_det.tracking.segments import Segment, runs_to_segments, temporal_iou
from videomae_det.tracking.tracker import ByteTrackConfig, KeyframeTracker, box_iou

Key = Tuple[str, int]


@dataclass
class MovieKeyframes:
    """One movie's keyframes in time order, for tracking evaluation.

    ``times``: seconds; ``gt``: per keyframe ``(ids (N,), boxes (N, 4) xyxy, actions list)``
    or None for a keyframe without ground truth (excluded); ``dets``: per keyframe
    ``(boxes (M, 4) xyxy, scores (M,))``; ``scores``: per keyframe, optional action scores
    ``(M, 80)`` of the detections (for segments).
    """
    movie: str
    times: List[float]
    gt: List[Optional[Tuple[np.ndarray, np.ndarray, List[List[int]]]]]
    dets: List[Tuple[np.ndarray, np.ndarray]]
    scores: Optional[List[Optional[np.ndarray]]] = None


def track_movie(movie: MovieKeyframes, config: Optional[ByteTrackConfig] = None,
                confirmed_only: bool = True) -> List[np.ndarray]:
    """Run the tracker over a movie's detections; per keyframe the track ids of its
    detections (-1: none). With ``confirmed_only``, ids of tracks that ended with fewer
    than ``min_hits`` keyframes become -1 (offline: a one-off box is a false positive)."""
    tracker = KeyframeTracker(config)
    ids = [tracker.update(boxes, scores, t) for t, (boxes, scores) in zip(movie.times,
                                                                           movie.dets)]
    if confirmed_only:
        keep = tracker.confirmed_ids()
        ids = [np.where(np.isin(i, list(keep)), i, -1) for i in ids]
    return ids


def mot_metrics(movies: Sequence[MovieKeyframes], track_ids: Sequence[List[np.ndarray]],
                iou: float = 0.5) -> Dict[str, Dict[str, float]]:
    """IDF1, MOTA, ID switches (and friends) per movie and overall, with motmetrics."""
    import motmetrics as mm
    accs, names = [], []
    for movie, ids in zip(movies, track_ids):
        acc = mm.MOTAccumulator(auto_id=True)
        for gt, (boxes, _), tid in zip(movie.gt, movie.dets, ids):
            if gt is None:
                continue
            gt_ids, gt_boxes, _ = gt
            keep = tid >= 0
            hyp_boxes = np.asarray(boxes, np.float64).reshape(-1, 4)[keep]
            # 1 - IoU, NaN (no match) below ``iou``: motmetrics' own iou_matrix uses
            # np.asfarray, gone in numpy 2
            overlap = box_iou(gt_boxes, hyp_boxes)
            dist = np.where(overlap >= iou, 1.0 - overlap, np.nan)
            acc.update(list(gt_ids), list(tid[keep]), dist)
        accs.append(acc)
        names.append(movie.movie)
    mh = mm.metrics.create()
    metrics = ['idf1', 'idp', 'idr', 'mota', 'motp', 'num_switches', 'num_misses',
               'num_false_positives', 'num_objects', 'num_unique_objects', 'mostly_tracked']
    summary = mh.compute_many(accs, metrics=metrics, names=names, generate_overall=True)
    return {str(name): {m: _plain(summary.loc[name, m]) for m in metrics}
            for name in summary.index}


def _plain(v):
    v = v.item() if hasattr(v, 'item') else v
    return round(float(v), 4) if isinstance(v, float) else int(v)


def identity_map(movie: MovieKeyframes, ids: List[np.ndarray], iou: float = 0.5
                 ) -> Dict[int, int]:
    """Track id -> the true person it overlaps (IoU ≥ ``iou``) on most keyframes, chosen
    one-to-one by maximum total overlap (the IDF1 assignment)."""
    from scipy.optimize import linear_sum_assignment
    counts: Dict[Tuple[int, int], int] = {}
    for gt, (boxes, _), tid in zip(movie.gt, movie.dets, ids):
        if gt is None or not len(tid):
            continue
        gt_ids, gt_boxes, _ = gt
        m = box_iou(boxes, gt_boxes)
        for d, t in enumerate(tid):
            if t < 0 or not m.shape[1]:
                continue
            g = int(np.argmax(m[d]))
            if m[d, g] >= iou:
                counts[(int(t), int(gt_ids[g]))] = counts.get((int(t), int(gt_ids[g])), 0) + 1
    tracks = sorted({t for t, _ in counts})
    people = sorted({p for _, p in counts})
    if not tracks:
        return {}
    gain = np.zeros((len(tracks), len(people)))
    for (t, p), n in counts.items():
        gain[tracks.index(t), people.index(p)] = n
    rows, cols = linear_sum_assignment(-gain)
    return {tracks[r]: people[c] for r, c in zip(rows, cols) if gain[r, c] > 0}


def true_segments(movie: MovieKeyframes, action_ids: Sequence[int], interval: float
                  ) -> List[Segment]:
    """Ground-truth segments per (person, action): runs of keyframes where the person is
    annotated with the action (scores 1/0 through :func:`runs_to_segments`)."""
    times: Dict[int, List[float]] = {}
    labels: Dict[int, List[List[int]]] = {}
    for t, gt in zip(movie.times, movie.gt):
        if gt is None:
            continue
        for pid, acts in zip(gt[0], gt[2]):
            times.setdefault(int(pid), []).append(t)
            labels.setdefault(int(pid), []).append(acts)
    out = []
    for pid in sorted(times):
        for a in action_ids:
            on = [1.0 if a in acts else 0.0 for acts in labels[pid]]
            out += runs_to_segments(pid, a, times[pid], on, 0.5, interval)
    return out


def segment_quality(pred: Dict[str, List[Segment]], truth: Dict[str, List[Segment]],
                    mapping: Dict[str, Dict[int, int]], iou: float = 0.5) -> Dict[str, float]:
    """Mean temporal IoU of true segments with their best predicted match (same person via
    ``mapping`` track -> person, same action), recall and precision at ``iou``."""
    best_true: List[float] = []
    hits_pred, num_pred = 0, 0
    for movie, segs in truth.items():
        person_of = mapping.get(movie, {})
        preds = [(person_of.get(s.track), s) for s in pred.get(movie, [])]
        for t in segs:
            cands = [temporal_iou((t.start_s, t.end_s), (p.start_s, p.end_s))
                     for person, p in preds if person == t.track and p.action == t.action]
            best_true.append(max(cands, default=0.0))
        for person, p in preds:
            num_pred += 1
            if any(temporal_iou((t.start_s, t.end_s), (p.start_s, p.end_s)) >= iou
                   for t in segs if t.track == person and t.action == p.action):
                hits_pred += 1
    best = np.asarray(best_true, np.float64)
    return dict(true_segments=int(best.size), predicted_segments=num_pred,
                mean_tiou=round(float(best.mean()), 4) if best.size else 0.0,
                recall_at_05=round(float((best >= iou).mean()), 4) if best.size else 0.0,
                precision_at_05=round(hits_pred / num_pred, 4) if num_pred else 0.0)
