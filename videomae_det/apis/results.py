"""Writing inference results: the AVA result CSV and a JSON file.

AVA result CSV rows: ``video_id, timestamp, x1, y1, x2, y2, action_id, score`` with the box
normalised to [0, 1] (xyxy) and one row per (person, reported action), every reported
action included whatever its score (evaluation needs the low scores too). Timestamps are
seconds: written as integers when every keyframe falls on a whole second (AVA style, e.g.
keyframe interval 1 s), otherwise with 3 decimals.

Both files are written atomically (``videomae_det.utils.atomic``).
"""
import json
import os
from typing import Dict, Iterable, Sequence, Union

from videomae_det.apis.inference import KeyframeResult
from videomae_det.formats import format_result_csv
from videomae_det.utils.atomic import atomic_write_text

PathLike = Union[str, os.PathLike]


def whole_seconds(results: Sequence[KeyframeResult]) -> bool:
    """Whether every keyframe timestamp is a whole number of seconds."""
    return all(abs(r.timestamp - round(r.timestamp)) < 1e-6 for r in results)


def format_timestamp(timestamp: float, integer: bool) -> str:
    """Seconds as ``'902'`` (``integer``) or ``'902.500'``."""
    return str(int(round(timestamp))) if integer else f'{timestamp:.3f}'


def ava_csv_text(results: Sequence[KeyframeResult], action_ids: Iterable[int]) -> str:
    """The AVA result CSV of ``results`` for the given action ids (see module doc; the
    format itself lives in ``videomae_det.formats.format_result_csv``)."""
    return format_result_csv([(r.video_id, r.timestamp, r.boxes_norm, r.action_scores)
                              for r in results], action_ids)


def write_ava_csv(path: PathLike, results: Sequence[KeyframeResult],
                  action_ids: Iterable[int]) -> None:
    """Write :func:`ava_csv_text` to ``path`` atomically."""
    atomic_write_text(path, ava_csv_text(results, action_ids))


def results_to_dict(results: Sequence[KeyframeResult], names: Dict[int, str],
                    meta: Dict = None) -> Dict:
    """JSON-ready dict: ``{'meta': {...}, 'action_names': {id: name}, 'keyframes': [...]}``.

    Each keyframe: ``video_id``, ``timestamp`` (s), ``frame_index`` and ``people``, each
    with ``track_id`` (when tracked; -1 = none), ``box`` (xyxy pixels), ``box_norm`` (xyxy in
    [0, 1]), ``person_score``,
    ``actions`` (``[{id, name, score}]`` above the threshold, highest first) and
    ``scores`` (the 80 action scores; index ``i`` is action id ``i + 1``).
    """
    keyframes = []
    for r in results:
        people = []
        tracks = getattr(r, 'track_ids', None)
        for i in range(len(r.boxes)):
            person = {} if tracks is None else dict(track_id=int(tracks[i]))
            people.append(dict(
                **person,
                box=[round(float(v), 2) for v in r.boxes[i]],
                box_norm=[round(float(v), 5) for v in r.boxes_norm[i]],
                person_score=round(float(r.person_scores[i]), 5),
                actions=[dict(id=a, name=names.get(a, f'action {a}'), score=round(s, 5))
                         for a, s in r.actions[i]],
                scores=[round(float(s), 5) for s in r.action_scores[i]]))
        keyframes.append(dict(video_id=r.video_id, timestamp=round(r.timestamp, 6),
                              frame_index=r.frame_index, people=people))
    return dict(meta=dict(meta or {}), action_names={str(k): v for k, v in names.items()},
                keyframes=keyframes)


def write_results_json(path: PathLike, results: Sequence[KeyframeResult],
                       names: Dict[int, str], meta: Dict = None) -> None:
    """Write :func:`results_to_dict` to ``path`` atomically."""
    atomic_write_text(path, json.dumps(results_to_dict(results, names, meta), indent=1) + '\n')


def tracks_csv_text(results: Sequence[KeyframeResult], names: Dict[int, str]) -> str:
    """One row per tracked person per keyframe, with a header:
    ``video_id,timestamp,track_id,x1,y1,x2,y2,person_score,actions`` (box normalised xyxy;
    ``actions`` = ``id:score`` of the listed actions, ``;``-separated). The AVA result CSV
    keeps its 8 official columns so that it can still be evaluated; track ids go here."""
    integer = whole_seconds(results)
    lines = ['video_id,timestamp,track_id,x1,y1,x2,y2,person_score,actions']
    for r in results:
        ts = format_timestamp(r.timestamp, integer)
        tracks = r.track_ids if r.track_ids is not None else [-1] * len(r.boxes)
        for tid, box, score, acts in zip(tracks, r.boxes_norm, r.person_scores, r.actions):
            coords = ','.join(f'{float(v):.4f}' for v in box)
            listed = ';'.join(f'{a}:{s:.4f}' for a, s in acts)
            lines.append(f'{r.video_id},{ts},{int(tid)},{coords},{float(score):.4f},{listed}')
    return ''.join(line + '\n' for line in lines)


def write_tracks_csv(path: PathLike, results: Sequence[KeyframeResult],
                     names: Dict[int, str]) -> None:
    """Write :func:`tracks_csv_text` to ``path`` atomically."""
    atomic_write_text(path, tracks_csv_text(results, names))
