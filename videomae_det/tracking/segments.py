"""Action segments: who did what, from when to when.

A track's keyframes each carry 80 action scores; an action *segment* is a run of
consecutive keyframes of one track whose score for that action is at least ``threshold``.
Each keyframe stands for the ``interval`` around it, so a run of keyframes ``t_a .. t_b``
becomes ``[t_a - interval / 2, t_b + interval / 2]`` (clipped at 0), and one keyframe alone
is a segment one interval long. Keyframes further apart than ``max_gap`` (default 1.5
intervals: the track was lost in between) break a run. Segments shorter than
``min_length`` seconds are dropped.

Outputs: ``segments.json`` / ``segments.csv`` (``track, action, start_s, end_s,
mean_score, peak_score``), an ``.srt`` subtitle file (one cue per segment, "#3 walk 0.82";
cues that overlap in time are shown together by players) and a timeline PNG (one row per
track, a coloured span per action). The ground truth of mini-AVA goes through the same
:func:`runs_to_segments`, so predicted and true segments are comparable
(:func:`temporal_iou`).
"""
import csv
import io
import json
import os
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from videomae_det.utils.atomic import atomic_open, atomic_write_text

PathLike = Union[str, os.PathLike]
SEGMENT_FIELDS = ('track', 'action', 'start_s', 'end_s', 'mean_score', 'peak_score')


@dataclass
class Segment:
    """One action of one track over ``[start_s, end_s]`` seconds (video time)."""
    track: int
    action: int
    start_s: float
    end_s: float
    mean_score: float
    peak_score: float
    name: str = ''

    @property
    def length(self) -> float:
        return self.end_s - self.start_s


def runs_to_segments(track: int, action: int, times: Sequence[float], scores: Sequence[float],
                     threshold: float, interval: float, min_length: float = 0.0,
                     max_gap: Optional[float] = None, name: str = '') -> List[Segment]:
    """The segments of one (track, action) from its keyframe ``times`` (seconds, increasing)
    and ``scores`` (module doc)."""
    max_gap = 1.5 * interval if max_gap is None else max_gap
    times = np.asarray(times, np.float64)
    scores = np.asarray(scores, np.float64)
    out: List[Segment] = []
    run: List[int] = []

    def close():
        if run:
            s = scores[run]
            seg = Segment(track, action, round(max(0.0, times[run[0]] - interval / 2), 3),
                          round(times[run[-1]] + interval / 2, 3),
                          round(float(s.mean()), 4), round(float(s.max()), 4), name)
            if seg.length >= min_length - 1e-9:
                out.append(seg)

    for i in range(len(times)):
        if scores[i] >= threshold:
            if run and times[i] - times[run[-1]] > max_gap + 1e-9:
                close()
                run = []
            run.append(i)
        else:
            close()
            run = []
    close()
    return out


def track_segments(tracks: Dict[int, Tuple[Sequence[float], np.ndarray]],
                   action_ids: Iterable[int], threshold: float, interval: float,
                   min_length: float = 0.0, names: Optional[Dict[int, str]] = None,
                   max_gap: Optional[float] = None) -> List[Segment]:
    """Segments of every track and action.

    Args:
        tracks: track id -> (keyframe times (K,) increasing, scores (K, 80); column
            ``i`` is action id ``i + 1``).
        action_ids: the actions to segment.
        threshold, interval, min_length, max_gap: see the module doc.
        names: action id -> name, copied into the segments.

    Returns:
        segments sorted by track, then start, then action.
    """
    names = names or {}
    out: List[Segment] = []
    for track, (times, scores) in tracks.items():
        scores = np.asarray(scores).reshape(len(times), -1)
        for a in sorted(set(int(a) for a in action_ids)):
            out += runs_to_segments(track, a, times, scores[:, a - 1], threshold, interval,
                                    min_length, max_gap, names.get(a, ''))
    return sorted(out, key=lambda s: (s.track, s.start_s, s.action))


def tracks_from_results(results) -> Dict[int, Tuple[List[float], np.ndarray]]:
    """track id -> (keyframe times, action scores (K, 80)) from :class:`KeyframeResult`
    items carrying ``track_ids`` (boxes without a track, id -1, are left out)."""
    times: Dict[int, List[float]] = {}
    rows: Dict[int, List[np.ndarray]] = {}
    for r in results:
        for tid, row in zip(r.track_ids if r.track_ids is not None else [], r.action_scores):
            if tid < 0:
                continue
            times.setdefault(int(tid), []).append(float(r.timestamp))
            rows.setdefault(int(tid), []).append(row)
    return {t: (times[t], np.stack(rows[t])) for t in times}


def temporal_iou(a: Tuple[float, float], b: Tuple[float, float]) -> float:
    """IoU of two time intervals ``(start, end)`` in seconds."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


# --------------------------------------------------------------------------- writing
def segments_csv_text(segments: Sequence[Segment]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(SEGMENT_FIELDS + ('name',))
    for s in segments:
        writer.writerow([s.track, s.action, f'{s.start_s:.3f}', f'{s.end_s:.3f}',
                         f'{s.mean_score:.4f}', f'{s.peak_score:.4f}', s.name])
    return buf.getvalue()


def write_segments(path: PathLike, segments: Sequence[Segment], meta: Optional[Dict] = None
                   ) -> None:
    """Write ``.json`` (``{'meta', 'segments': [...]}``) or ``.csv`` by the extension,
    atomically."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == '.csv':
        atomic_write_text(path, segments_csv_text(segments))
    elif ext == '.json':
        atomic_write_text(path, json.dumps(dict(meta=meta or {},
                                                segments=[asdict(s) for s in segments]),
                                           indent=1) + '\n')
    else:
        raise ValueError(f'{path}: segments are written as .json or .csv')


def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f'{h:02d}:{m:02d}:{s:02d},{ms:03d}'


def srt_text(segments: Sequence[Segment], time_offset: float = 0.0) -> str:
    """SubRip subtitles: one cue per segment, in start order, ``#track name score``.
    ``time_offset`` is subtracted so cues line up with the video file (segment times may
    carry a movie offset)."""
    cues = []
    for n, s in enumerate(sorted(segments, key=lambda s: (s.start_s, s.track, s.action)), 1):
        start = max(0.0, s.start_s - time_offset)
        end = max(start + 0.001, s.end_s - time_offset)
        label = s.name or f'action {s.action}'
        cues.append(f'{n}\n{_srt_time(start)} --> {_srt_time(end)}\n'
                    f'#{s.track} {label} {s.peak_score:.2f}\n')
    return '\n'.join(cues)


def write_srt(path: PathLike, segments: Sequence[Segment], time_offset: float = 0.0) -> None:
    atomic_write_text(path, srt_text(segments, time_offset))


def write_timeline(path: PathLike, segments: Sequence[Segment], duration: Optional[float] = None,
                   title: str = '') -> None:
    """A timeline PNG: one row per track, a coloured span per action segment (legend by
    action), the time axis in seconds. Written atomically."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    tracks = sorted({s.track for s in segments})
    actions = sorted({s.action for s in segments})
    cmap = plt.get_cmap('tab20')
    colour = {a: cmap(i % 20) for i, a in enumerate(actions)}
    lanes = max(1, len(actions))
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.45 * max(1, len(tracks))))
    for row, track in enumerate(tracks):
        for s in (s for s in segments if s.track == track):
            # actions share the row in thin lanes so overlapping actions stay visible
            lane = actions.index(s.action)
            y = row - 0.4 + 0.8 * lane / lanes
            ax.broken_barh([(s.start_s, s.end_s - s.start_s)], (y, 0.8 / lanes),
                           facecolors=colour[s.action])
    ax.set_yticks(range(len(tracks)))
    ax.set_yticklabels([f'track {t}' for t in tracks])
    ax.set_ylim(-0.6, max(0.6, len(tracks) - 0.4))
    ax.invert_yaxis()
    ax.set_xlabel('time (s)')
    end = duration if duration is not None else max([s.end_s for s in segments] + [1.0])
    start = min([s.start_s for s in segments] + [0.0])
    ax.set_xlim(start, end)
    if title:
        ax.set_title(title)
    names = {s.action: s.name or f'action {s.action}' for s in segments}
    if actions:
        ax.legend(handles=[Patch(color=colour[a], label=names[a]) for a in actions],
                  loc='upper left', bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    with atomic_open(path, 'wb') as f:
        # 'tight' keeps the legend beside the axes in the picture
        fig.savefig(f, format='png', dpi=100, bbox_inches='tight')
    plt.close(fig)
