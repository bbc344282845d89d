"""Person tracks across keyframes: ByteTrack-style association without appearance.

ByteTrack (Zhang et al., ECCV 2022, arXiv:2110.06864) links every detection box, not only
the confident ones: high-score boxes are matched to the tracks first; the tracks left over
then get a second chance with the low-score boxes (an occluded person's box scores low but
is still that person); unmatched tracks are kept "lost" for a while and can be picked up
again. We run it on keyframes (1 Hz for AVA), far sparser than the video rate ByteTrack was
built for, which changes two things:

- a person moves much further between keyframes (a runner crosses a body width in a
  fraction of a second), so boxes are compared after a constant-velocity prediction and
  with *buffered* IoU (both boxes widened by a fraction of their size, as C-BIoU does for
  fast, irregular motion), and a track's velocity is an exponentially smoothed estimate
  from its last matches. A Kalman filter is the usual motion model; with 1-30 observations
  per track its noise levels cannot be estimated, and the smoothed velocity is the same
  estimate with one knob.
- "lost" is measured in seconds (``max_lost_s``), so a track survives a cut-away or an
  occluder whatever the keyframe interval.

The assignment itself (the minimum-cost matching of tracks to boxes) is
``scipy.optimize.linear_sum_assignment``: scipy is already a dependency, well kept, exact
(Jonker-Volgenant), and its result does not depend on the order of boxes. Tracking
packages (``boxmot``, ``norfair``, ``motpy``, ByteTrack's own code with ``lap``) bring
heavy or unmaintained dependencies and per-frame, appearance- or Kalman-based designs made
for 30 Hz video; the association logic specific to keyframes is short and lives here.
"""
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ['ByteTrackConfig', 'KeyframeTracker', 'Track', 'TrackScoreSmoother', 'box_iou',
           'buffered_iou']


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes ``a`` (N, 4) and ``b`` (M, 4) -> (N, M); plain areas."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _widen(boxes: np.ndarray, ratio) -> np.ndarray:
    """Boxes grown by ``ratio`` (scalar or per box (N,)) × width/height on every side."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    ratio = np.asarray(ratio, np.float64).reshape(-1, 1) if np.ndim(ratio) else ratio
    wh = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([boxes[:, :2] - ratio * wh, boxes[:, 2:] + ratio * wh], axis=1)


def buffered_iou(a: np.ndarray, b: np.ndarray, ratio: float) -> np.ndarray:
    """IoU of both box sets widened by ``ratio`` × their width/height on every side."""
    return box_iou(_widen(a, ratio), _widen(b, ratio))


@dataclass
class ByteTrackConfig:
    """Association settings (scores are the person detector's).

    Attributes:
        high_score: boxes from this score are matched first and may start tracks.
        low_score: boxes below it are ignored; between the two they only extend tracks.
        new_track_score: a track starts from an unmatched box scoring at least this.
        match_iou: minimum buffered IoU of a first-stage match.
        low_match_iou: minimum buffered IoU of a second-stage (low-score) match.
        buffer: box widening of the buffered IoU, fraction of width/height per side.
        birth_buffer: the widening of a track seen once (no velocity yet: a runner may be
            two body widths away at the next keyframe).
        max_lost_s: seconds a track may go unmatched and still be picked up again.
        velocity_momentum: weight of the previous velocity in the smoothed estimate.
        min_hits: keyframes a track needs before it counts as confirmed (tracks with
            fewer are likely false positives; see :meth:`KeyframeTracker.confirmed_ids`).
    """
    high_score: float = 0.6
    low_score: float = 0.1
    new_track_score: float = 0.7
    match_iou: float = 0.05
    low_match_iou: float = 0.4
    buffer: float = 0.5
    birth_buffer: float = 0.5
    max_lost_s: float = 4.0
    velocity_momentum: float = 0.8
    min_hits: int = 2


@dataclass
class Track:
    """One person's track. ``box`` xyxy pixels at ``time`` (s, its last match);
    ``velocity`` (4,) pixels/s of the box corners; ``hits`` matched keyframes."""
    track_id: int
    box: np.ndarray
    time: float
    score: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    hits: int = 1

    def predict(self, t: float) -> np.ndarray:
        """The box expected at time ``t`` (constant velocity, size kept positive)."""
        box = self.box + self.velocity * (t - self.time)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        w = max(box[2] - box[0], 1.0)
        h = max(box[3] - box[1], 1.0)
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


class KeyframeTracker:
    """Online tracker over keyframes: call :meth:`update` with each keyframe's boxes in
    time order; it returns one track id per box (``-1`` for a box that neither matched a
    track nor scored enough to start one).

    Example::

        tracker = KeyframeTracker()
        for r in detect_video(...):
            r.track_ids = tracker.update(r.boxes, r.person_scores, r.timestamp)
    """

    def __init__(self, config: Optional[ByteTrackConfig] = None):
        self.config = config or ByteTrackConfig()
        self.tracks: List[Track] = []  # active and lost (not yet expired)
        self.hits: Dict[int, int] = {}  # every track id ever made -> matched keyframes
        self._next_id = 1
        self._last_time: Optional[float] = None

    def confirmed_ids(self) -> set:
        """Ids of tracks matched on at least ``min_hits`` keyframes so far."""
        return {i for i, n in self.hits.items() if n >= self.config.min_hits}

    def update(self, boxes: np.ndarray, scores: np.ndarray, time: float) -> np.ndarray:
        """Associate one keyframe's boxes (``(M, 4)`` xyxy pixels, scores ``(M,)``) at
        ``time`` seconds; returns int64 ``(M,)`` track ids (``-1``: no track)."""
        cfg = self.config
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        if len(scores) != len(boxes):
            raise ValueError(f'{len(boxes)} boxes but {len(scores)} scores')
        if self._last_time is not None and time < self._last_time:
            raise ValueError(f'keyframe time {time} s is before the previous one '
                             f'({self._last_time} s): update in time order')
        self._last_time = time
        # forget tracks lost for too long
        self.tracks = [t for t in self.tracks if time - t.time <= cfg.max_lost_s]
        ids = np.full(len(boxes), -1, np.int64)
        high = np.nonzero(scores >= cfg.high_score)[0]
        low = np.nonzero((scores >= cfg.low_score) & (scores < cfg.high_score))[0]

        # stage 1: confident boxes against every track (active or lost)
        free_tracks = list(range(len(self.tracks)))
        matched = self._associate(free_tracks, high, boxes, time, cfg.match_iou)
        # stage 2: the tracks left over against the low-score boxes
        left = [t for t in free_tracks if t not in {ti for ti, _ in matched}]
        matched += self._associate(left, low, boxes, time, cfg.low_match_iou)
        for ti, di in matched:
            self._extend(self.tracks[ti], boxes[di], scores[di], time)
            ids[di] = self.tracks[ti].track_id
        # new tracks from confident boxes nobody claimed
        for di in high:
            if ids[di] == -1 and scores[di] >= cfg.new_track_score:
                track = Track(self._next_id, boxes[di].copy(), time, float(scores[di]))
                self._next_id += 1
                self.tracks.append(track)
                self.hits[track.track_id] = 1
                ids[di] = track.track_id
        return ids

    def _associate(self, track_idx: Sequence[int], det_idx: Sequence[int], boxes: np.ndarray,
                   time: float, min_iou: float) -> List[tuple]:
        """Minimum-cost matching (cost 1 - buffered IoU of the predicted track box and the
        detection), keeping pairs at or above ``min_iou``; returns (track, box) indices."""
        if not len(track_idx) or not len(det_idx):
            return []
        cfg = self.config
        predicted = np.stack([self.tracks[t].predict(time) for t in track_idx])
        ratios = [cfg.birth_buffer if self.tracks[t].hits == 1 else cfg.buffer for t in track_idx]
        sim = box_iou(_widen(predicted, ratios), _widen(boxes[list(det_idx)], cfg.buffer))
        rows, cols = linear_sum_assignment(1.0 - sim)
        return [(track_idx[r], det_idx[c]) for r, c in zip(rows, cols) if sim[r, c] >= min_iou]

    def _extend(self, track: Track, box: np.ndarray, score: float, time: float) -> None:
        dt = time - track.time
        if dt > 0:
            observed = (box - track.box) / dt
            m = self.config.velocity_momentum if track.hits > 1 else 0.0
            track.velocity = m * track.velocity + (1 - m) * observed
        track.box, track.time, track.score = box.copy(), time, float(score)
        track.hits += 1
        self.hits[track.track_id] = track.hits


class TrackScoreSmoother:
    """Smooths action scores along each track: a box's scores become the mean over its
    track's last ``window`` keyframes (this one included), so a one-keyframe flicker does
    not start or break an action. Causal, so it works live; ``window`` ≤ 1 keeps raw
    scores. Boxes without a track (id -1) keep theirs."""

    def __init__(self, window: int):
        self.window = int(window)
        self._history: Dict[int, deque] = {}

    def update(self, track_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``scores`` (M, C) of one keyframe's boxes -> smoothed (M, C) (a new array)."""
        scores = np.asarray(scores)
        out = scores.copy()
        if self.window <= 1:
            return out
        for i, tid in enumerate(np.asarray(track_ids).reshape(-1)):
            if tid < 0:
                continue
            hist = self._history.setdefault(int(tid), deque(maxlen=self.window))
            hist.append(scores[i])
            out[i] = np.mean(hist, axis=0)
        return out
