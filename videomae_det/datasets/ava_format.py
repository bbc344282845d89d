"""AVA file formats: the official CSVs, label maps, the ``*_min.json`` annotation files and
the person-detection JSON. Pure parsing and conversion (no video I/O), shared by the
dataset, the preparation tools and the mini-AVA generator so that all of them read and
write exactly the same thing.

Conventions (README, section "Data"):

- Official CSV rows: ``video_id,timestamp,x1,y1,x2,y2,action_id,person_id``; boxes xyxy
  normalised to [0, 1]; timestamps are whole seconds of the movie, written with 4 digits
  (``0902``). A 2-column row ``video_id,timestamp`` is an annotated keyframe with nobody in it.
  Detection/result CSVs end with a score instead of ``person_id``.
- ``*_min.json`` (COCO-like): ``images`` (one per keyframe: ``id`` = movie index × 10000 +
  timestamp, movie index = position of the movie in the sorted movie list of the file,
  ``movie``, ``timestamp``, ``width``, ``height`` of the stored clips, ``img_path``,
  ``video_path``); ``annotations`` (one per person and keyframe: ``bbox`` [x, y, w, h] in
  absolute pixels of the stored clip, ``action_ids`` raw AVA ids, ``person_id``);
  ``categories`` = [person].
- Person detections: a COCO results list ``[{image_id, bbox: [x, y, w, h] absolute pixels,
  score, category_id: 1}]`` using the image ids of the matching ``*_min.json``.
"""
import csv
import json
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

PathLike = Union[str, os.PathLike]

NUM_CLASSES = 80  # AVA action ids run 1..80; column i of a multi-hot vector is id i + 1
IMAGE_ID_STRIDE = 10000  # image id = movie index × 10000 + timestamp


class AVAFormatError(ValueError):
    """Malformed annotation input. The message names the file and the row/key at fault."""


# --------------------------------------------------------------------------- CSVs
class CSVBox(NamedTuple):
    """One CSV row with a box: xyxy normalised to [0, 1]; ``action_id`` raw AVA id (or None
    when the file has no action column); ``extra`` is person_id (GT) or score (results)."""
    movie: str
    timestamp: int
    box: Tuple[float, float, float, float]
    action_id: Optional[int]
    extra: Optional[float]


class AVAGroundTruth(NamedTuple):
    """A parsed ground-truth CSV.

    ``keyframes``: every annotated (movie, timestamp), in first-appearance order (2-column rows
    included). ``persons``: (movie, timestamp) -> list of (box xyxy normalised, person_id,
    sorted action ids), one entry per distinct (person_id, box) at that keyframe.
    """
    keyframes: List[Tuple[str, int]]
    persons: Dict[Tuple[str, int], List[Tuple[Tuple[float, float, float, float], int, List[int]]]]


def format_timestamp(t: int) -> str:
    """Keyframe second as the 4-digit string of the official files (902 -> '0902')."""
    return f'{int(t):04d}'


def _parse_float(value: str, path, line: int, column: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise AVAFormatError(f'{path}, line {line}: {column} is not a number: {value!r}') from None


def _parse_int(value: str, path, line: int, column: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise AVAFormatError(
            f'{path}, line {line}: {column} is not an integer: {value!r}') from None


def iter_csv_rows(path: PathLike) -> Iterable[Tuple[int, Union[Tuple[str, int], CSVBox]]]:
    """Yield ``(line_number, row)`` from an official-format CSV.

    ``row`` is ``(movie, timestamp)`` for a 2-column row, otherwise a :class:`CSVBox`. 6-column
    rows (box without action) are accepted as person boxes. Raises :class:`AVAFormatError`
    naming the file and line for anything else.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'annotation CSV not found: {path}')
    with open(path, newline='', encoding='utf-8') as f:
        for line, cols in enumerate(csv.reader(f), start=1):
            cols = [c.strip() for c in cols]
            if not cols or all(c == '' for c in cols):
                continue
            if len(cols) not in (2, 6, 7, 8):
                raise AVAFormatError(
                    f'{path}, line {line}: expected 2, 6, 7 or 8 columns '
                    f'(video_id,timestamp[,x1,y1,x2,y2[,action_id[,person_id|score]]]), '
                    f'got {len(cols)}: {",".join(cols)!r}')
            movie = cols[0]
            timestamp = _parse_int(cols[1], path, line, 'timestamp')
            if len(cols) == 2:
                yield line, (movie, timestamp)
                continue
            box = tuple(_parse_float(v, path, line, n)
                        for v, n in zip(cols[2:6], ('x1', 'y1', 'x2', 'y2')))
            x1, y1, x2, y2 = box
            if not (x2 > x1 and y2 > y1):
                raise AVAFormatError(
                    f'{path}, line {line}: box has no area (x1,y1,x2,y2 = {cols[2:6]})')
            action_id = _parse_int(cols[6], path, line, 'action_id') if len(cols) > 6 else None
            if action_id is not None and action_id < 1:
                # any class set's ids are positive (AVA: 1..80); which ids a run uses is
                # the label map's business
                raise AVAFormatError(
                    f'{path}, line {line}: action_id {action_id} is not a positive id')
            extra = _parse_float(cols[7], path, line, 'person_id/score') if len(cols) > 7 else None
            yield line, CSVBox(movie, timestamp, box, action_id, extra)


def read_ground_truth_csv(path: PathLike) -> AVAGroundTruth:
    """Parse an official ground-truth CSV (see :class:`AVAGroundTruth`)."""
    keyframes: 'OrderedDict[Tuple[str, int], None]' = OrderedDict()
    persons: Dict[Tuple[str, int], 'OrderedDict'] = {}
    for line, row in iter_csv_rows(path):
        if not isinstance(row, CSVBox):
            keyframes.setdefault(row, None)
            persons.setdefault(row, OrderedDict())
            continue
        key = (row.movie, row.timestamp)
        keyframes.setdefault(key, None)
        if row.action_id is None:
            raise AVAFormatError(f'{path}, line {line}: ground-truth row without action_id')
        person_id = int(row.extra) if row.extra is not None else -1
        entry = persons.setdefault(key, OrderedDict()).setdefault((person_id, row.box), set())
        entry.add(row.action_id)
    return AVAGroundTruth(
        keyframes=list(keyframes),
        persons={k: [(box, pid, sorted(ids)) for (pid, box), ids in v.items()]
                 for k, v in persons.items()})


def write_ground_truth_csv(path: PathLike, keyframes: Sequence[Tuple[str, int]],
                           persons: Dict[Tuple[str, int], list], decimals: int = 3) -> None:
    """Write an official-format ground-truth CSV atomically.

    ``persons`` maps (movie, timestamp) to a list of (box xyxy normalised, person_id, action
    ids); a keyframe without persons becomes a 2-column row. Coordinates are written with
    ``decimals`` digits (the official files use 3).
    """
    from videomae_det.utils.atomic import atomic_open
    with atomic_open(path, 'w', encoding='utf-8', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        for movie, t in keyframes:
            entries = persons.get((movie, t), [])
            if not entries:
                writer.writerow([movie, format_timestamp(t)])
            for box, pid, action_ids in entries:
                coords = [f'{v:.{decimals}f}' for v in box]
                for action_id in action_ids:
                    writer.writerow([movie, format_timestamp(t), *coords, action_id, pid])


def read_detection_csv(
        path: PathLike) -> Dict[Tuple[str, int], List[Tuple[Tuple[float, ...], float]]]:
    """Person detections in CSV: ``video_id,timestamp,x1,y1,x2,y2,score`` or with an (ignored,
    possibly empty) action column before the score, boxes normalised xyxy.

    Returns (movie, timestamp) -> [(box, score)]; a box repeated on several rows (one per
    action, as some exporters write) is kept once with its highest score.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'detection CSV not found: {path}')
    out: Dict[Tuple[str, int], Dict[Tuple[float, ...], float]] = {}
    with open(path, newline='', encoding='utf-8') as f:
        for line, cols in enumerate(csv.reader(f), start=1):
            cols = [c.strip() for c in cols]
            if not cols or all(c == '' for c in cols):
                continue
            if len(cols) not in (7, 8):
                raise AVAFormatError(
                    f'{path}, line {line}: expected 7 or 8 columns '
                    f'(video_id,timestamp,x1,y1,x2,y2[,action_id],score), got {len(cols)}')
            t = _parse_int(cols[1], path, line, 'timestamp')
            box = tuple(_parse_float(v, path, line, n)
                        for v, n in zip(cols[2:6], ('x1', 'y1', 'x2', 'y2')))
            score = _parse_float(cols[-1], path, line, 'score')
            boxes = out.setdefault((cols[0], t), {})
            boxes[box] = max(score, boxes.get(box, -1.0))
    return {k: list(v.items()) for k, v in out.items()}


def read_timestamp_csv(path: PathLike) -> List[Tuple[str, int]]:
    """(movie, timestamp) pairs of a 2-column CSV such as the excluded-timestamps file."""
    out = []
    for line, row in iter_csv_rows(path):
        if isinstance(row, CSVBox):
            raise AVAFormatError(f'{path}, line {line}: expected 2 columns (video_id,timestamp)')
        out.append(row)
    return out


# --------------------------------------------------------------------------- label maps
def read_label_map(path: PathLike) -> Dict[int, str]:
    """AVA label map (protobuf text) -> {action id: name}.

    Reads both the ActivityNet format (``item { name: "..." id: N }``) and the full-list
    format (``label { name: "..." label_id: N label_type: ... }``).
    """
    text = Path(path).read_text(encoding='utf-8')
    out: Dict[int, str] = {}
    for block in re.finditer(r'(?:item|label)\s*\{(.*?)\}', text, flags=re.S):
        body = block.group(1)
        name = re.search(r'name:\s*"([^"]*)"', body)
        ident = re.search(r'\b(?:label_)?id:\s*(\d+)', body)
        if not (name and ident):
            line = text.count('\n', 0, block.start()) + 1
            raise AVAFormatError(f'{path}, line {line}: label entry without name and id')
        out[int(ident.group(1))] = name.group(1)
    if not out:
        raise AVAFormatError(f'{path}: no label entries found')
    return out


def write_label_map(path: PathLike, labels: Dict[int, str]) -> None:
    """Write {action id: name} in the ActivityNet pbtxt format (``item { name id }``)."""
    from videomae_det.utils.atomic import atomic_write_text
    text = ''.join(f'item {{\n  name: "{name}"\n  id: {i}\n}}\n'
                   for i, name in sorted(labels.items()))
    atomic_write_text(path, text)


# --------------------------------------------------------------------------- JSON
def load_json(path: PathLike):
    """``json.load`` with errors that name the file and the position of a syntax error."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'JSON file not found: {path}')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AVAFormatError(f'{path}: invalid JSON at line {e.lineno}, column {e.colno} '
                             f'(character {e.pos}): {e.msg}') from None


def image_id(movie_index: int, timestamp: int) -> int:
    """COCO image id of a keyframe: movie index × 10000 + timestamp (reference convention)."""
    return movie_index * IMAGE_ID_STRIDE + int(timestamp)


def build_min_json(gt: AVAGroundTruth, clip_sizes: Dict[str, Tuple[int, int]]) -> dict:
    """Ground truth -> the ``*_min.json`` dict.

    Args:
        gt: parsed ground-truth CSV; every keyframe becomes an image (2-column ones without
            annotations).
        clip_sizes: movie -> (width, height) in pixels of its stored clips.

    Boxes become ``bbox`` [x, y, w, h] in absolute pixels: x = x1·W, w = x2·W − x1·W.
    """
    movies = sorted({m for m, _ in gt.keyframes})
    missing = [m for m in movies if m not in clip_sizes]
    if missing:
        raise AVAFormatError(f'no clip size for {len(missing)} movie(s): {missing[:5]}')
    movie_index = {m: i for i, m in enumerate(movies)}
    images, annotations = [], []
    for movie, t in sorted(gt.keyframes, key=lambda k: (movie_index[k[0]], k[1])):
        w, h = clip_sizes[movie]
        img_id = image_id(movie_index[movie], t)
        images.append(dict(id=img_id, movie=movie, timestamp=int(t), width=int(w),
                           height=int(h), img_path=f'{movie}/{int(t)}.jpg',
                           video_path=f'{movie}/{int(t)}.mp4'))
        for box, pid, action_ids in gt.persons.get((movie, t), []):
            x1, y1, x2, y2 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
            annotations.append(dict(
                id=len(annotations) + 1, image_id=img_id, person_id=int(pid), category_id=1,
                action_ids=[int(a) for a in action_ids], bbox=[x1, y1, x2 - x1, y2 - y1],
                area=(x2 - x1) * (y2 - y1), iscrowd=0))
    return dict(images=images, annotations=annotations,
                categories=[dict(id=1, name='person', supercategory='person')])


def write_json(path: PathLike, obj) -> None:
    """Write ``obj`` as JSON atomically (compact: these files get large)."""
    from videomae_det.utils.atomic import atomic_write_text
    atomic_write_text(path, json.dumps(obj, separators=(',', ':')))


def keyframe_image_ids(min_json: dict) -> Dict[Tuple[str, int], int]:
    """(movie, timestamp) -> image id of a ``*_min.json`` dict."""
    return {(img['movie'], int(img['timestamp'])): int(img['id']) for img in min_json['images']}
