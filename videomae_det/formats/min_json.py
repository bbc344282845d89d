"""The ``*_min.json`` annotation files (COCO-like, VAD/AlphAction style): build, read,
validate.

Layout (docs/data.md)::

    {"images": [{"id", "movie", "timestamp", "width", "height", "img_path", "video_path"}],
     "annotations": [{"id", "image_id", "person_id", "category_id": 1, "action_ids",
                      "bbox": [x, y, w, h] absolute pixels of the stored frames, "area",
                      "iscrowd": 0}],
     "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
     "movie_index": {movie: index}, "info": {"movie_numbering": ..., ...}}

Image id = movie index × 10000 + timestamp. VAD/AlphAction number a movie by its line
(0-based) in the official ``ava_file_names_trainval_v2.1.txt``, so their released detection
files (``ava_val_det_person_bbox.json``) only fit a JSON numbered the same way: build with
the movie list (``read_movie_list``). Without it the movies of the CSV are numbered in
sorted order. Either way the JSON records the numbering it used (``movie_index``, and
``info.movie_numbering`` says which), so a detection file made with another numbering is
caught (``formats.detections``) instead of silently landing on another movie. JSONs made
elsewhere (VAD's own) carry no record; their numbering is derived from the images when every
id is ``index × 10000 + timestamp`` (:func:`movie_numbering`).
"""
import json
import math
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from .box_csv import AVAGroundTruth
from .errors import AVAFormatError

PathLike = Union[str, os.PathLike]

IMAGE_ID_STRIDE = 10000  # image id = movie index × 10000 + timestamp
NUMBERING_MOVIE_LIST = 'movie list'
NUMBERING_SORTED = 'sorted movies of the CSV'


# --------------------------------------------------------------------------- JSON files
def load_json(path: PathLike, what: str = 'JSON'):
    """``json.load`` with errors that name the file (missing, not UTF-8, syntax position)."""
    path = Path(path)
    if not path.is_file():
        raise AVAFormatError(path, None, f'{what} file not found')
    data = path.read_bytes()
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        raise AVAFormatError(path, data.count(b'\n', 0, e.start) + 1,
                             f'not a text file (byte {data[e.start:e.start + 1]!r} at offset '
                             f'{e.start} is not UTF-8); expected {what}') from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AVAFormatError(path, e.lineno, f'invalid JSON at column {e.colno} (character '
                             f'{e.pos}): {e.msg}') from None
    except RecursionError:
        raise AVAFormatError(path, None, 'invalid JSON: nested too deeply') from None


def write_json(path: PathLike, obj, indent: Optional[int] = None) -> None:
    """Write ``obj`` as strict JSON atomically (compact by default: these files get large).

    NaN/Infinity are refused (ValueError): they are not JSON and other readers choke on them.
    """
    from videomae_det.utils.atomic import atomic_write_text
    separators = (',', ':') if indent is None else (',', ': ')
    try:
        text = json.dumps(obj, separators=separators, indent=indent, allow_nan=False)
    except ValueError as e:
        raise ValueError(f'{path}: refusing to write a non-finite number ({e})') from None
    atomic_write_text(path, text)


# --------------------------------------------------------------------------- numbering
def image_id(movie_index: int, timestamp: int) -> int:
    """COCO image id of a keyframe: movie index × 10000 + timestamp (VAD convention)."""
    return int(movie_index) * IMAGE_ID_STRIDE + int(timestamp)


def read_movie_list(path: PathLike) -> Dict[str, int]:
    """The official movie list (``ava_file_names_trainval_v2.1.txt``: one ``<movie>.<ext>``
    per line) -> {movie: index}, index = 0-based line number, as VAD's ``csv2COCO.py``
    counts (blank lines count too; the movie name is the text before the first dot)."""
    path = Path(path)
    if not path.is_file():
        raise AVAFormatError(path, None, 'movie list file not found')
    out: Dict[str, int] = {}
    data = path.read_bytes()
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError:
        raise AVAFormatError(path, None, 'movie list is not a text file') from None
    for index, line in enumerate(text.split('\n')):
        name = line.strip().split('.', 1)[0]
        if not name:
            continue
        if ',' in name or ' ' in name:
            raise AVAFormatError(path, index + 1, 'expected one file name per line '
                                 '(e.g. "-5KQ66BBWC4.mkv")', line)
        if name in out:
            raise AVAFormatError(path, index + 1, f'movie {name!r} is listed twice (first on '
                                 f'line {out[name] + 1})')
        out[name] = index
    if not out:
        raise AVAFormatError(path, None, 'movie list has no movie')
    return out


def movie_numbering(data: dict) -> Optional[Dict[str, int]]:
    """{movie: index} of a (validated) ``*_min.json`` dict: the recorded ``movie_index``,
    else derived from the images when every id is ``index × 10000 + timestamp`` with one
    index per movie; None when neither holds."""
    recorded = data.get('movie_index')
    if isinstance(recorded, dict):
        return {str(m): int(i) for m, i in recorded.items()}
    derived: Dict[str, int] = {}
    for img in data.get('images', []):
        index, t = divmod(int(img['id']), IMAGE_ID_STRIDE)
        if t != int(img['timestamp']) or derived.setdefault(img['movie'], index) != index:
            return None
    if len(set(derived.values())) != len(derived):
        return None
    return derived


def build_min_json(gt: AVAGroundTruth, frame_sizes: Dict[str, Tuple[int, int]],
                   movie_index: Optional[Dict[str, int]] = None,
                   movie_list_name: Optional[str] = None) -> dict:
    """Ground truth -> the ``*_min.json`` dict.

    Args:
        gt: parsed ground-truth CSV; every keyframe becomes an image (2-column ones without
            annotations).
        frame_sizes: movie -> (width, height) in pixels of its stored frames/clips.
        movie_index: {movie: index} from :func:`read_movie_list` (the official numbering);
            None numbers the CSV's movies in sorted order.
        movie_list_name: the movie list's file name, recorded in ``info``.

    Boxes become ``bbox`` [x, y, w, h] in absolute pixels: x = x1·W, w = x2·W − x1·W.
    """
    movies = sorted({m for m, _ in gt.keyframes})
    missing = [m for m in movies if m not in frame_sizes]
    if missing:
        raise AVAFormatError(None, None, f'no frame size for {len(missing)} movie(s): '
                             f'{missing[:5]}')
    if movie_index is None:
        index = {m: i for i, m in enumerate(movies)}
        numbering = NUMBERING_SORTED
    else:
        unlisted = [m for m in movies if m not in movie_index]
        if unlisted:
            raise AVAFormatError(movie_list_name, None, f'{len(unlisted)} movie(s) of the CSV '
                                 f'are not in the movie list, e.g. {unlisted[:5]}')
        index = {m: int(movie_index[m]) for m in movies}
        numbering = f'{NUMBERING_MOVIE_LIST} {movie_list_name or ""}'.strip()
    images, annotations = [], []
    for movie, t in sorted(gt.keyframes, key=lambda k: (index[k[0]], k[1])):
        if not 0 <= int(t) < IMAGE_ID_STRIDE:
            raise AVAFormatError(None, None, f'{movie} timestamp {t} outside 0..9999 cannot '
                                 f'form an image id')
        w, h = frame_sizes[movie]
        img_id = image_id(index[movie], t)
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
                categories=[dict(id=1, name='person', supercategory='person')],
                movie_index=index,
                info=dict(image_id='movie_index * 10000 + timestamp', movie_numbering=numbering))


def keyframe_image_ids(data: dict) -> Dict[Tuple[str, int], int]:
    """(movie, timestamp) -> image id of a ``*_min.json`` dict."""
    return {(img['movie'], int(img['timestamp'])): int(img['id']) for img in data['images']}



def person_boxes_by_image(data: dict) -> Dict[int, List[List[float]]]:
    """image id -> the ground-truth person boxes of a ``*_min.json`` dict, each
    [x1, y1, x2, y2] in absolute pixels (from the annotations' [x, y, w, h])."""
    boxes: Dict[int, List[List[float]]] = {}
    for ann in data.get('annotations', []):
        x, y, w, h = ann['bbox']
        boxes.setdefault(int(ann['image_id']), []).append([x, y, x + w, y + h])
    return boxes

# --------------------------------------------------------------------------- validation
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _type_name(v) -> str:
    return f'{type(v).__name__} {v!r}'[:80]


def check_min_json(data, path: Optional[PathLike] = None, require_actions: bool = False,
                   limit: int = 50) -> List[AVAFormatError]:
    """Every problem of a ``*_min.json`` dict (at most ``limit``), each an
    :class:`AVAFormatError` naming the file and the entry: wrong top-level shape, values of
    the wrong type, duplicate image ids, keyframes or annotation ids, ids that contradict
    the recorded numbering, annotations pointing at no image, boxes that are not 4 finite
    numbers with w, h >= 0, action ids that are not positive integers (required when
    ``require_actions``)."""
    problems: List[AVAFormatError] = []

    def bad(reason):
        if len(problems) < limit:
            problems.append(AVAFormatError(path, None, reason))

    if not isinstance(data, dict) or not isinstance(data.get('images'), list):
        bad('expected a COCO-like object with an "images" list')
        return problems
    anns = data.get('annotations', [])
    if not isinstance(anns, list):
        bad(f'"annotations" must be a list, got {type(anns).__name__}')
        anns = []
    recorded = data.get('movie_index')
    if recorded is not None and not (isinstance(recorded, dict) and all(
            isinstance(m, str) and _is_int(i) and i >= 0 for m, i in recorded.items())):
        bad('"movie_index" must map movie names to non-negative integers')
        recorded = None
    ids, keyframes = {}, {}
    for i, img in enumerate(data['images']):
        where = f'image #{i}'
        if not isinstance(img, dict):
            bad(f'{where} is {_type_name(img)}, not an object')
            continue
        absent = [k for k in ('id', 'movie', 'timestamp', 'width', 'height') if k not in img]
        if absent:
            bad(f'{where} (id {img.get("id", "?")}) lacks key(s) {absent}')
            continue
        types = [('id', _is_int, 'an integer'), ('movie', lambda v: isinstance(v, str) and v,
                                                 'a movie name'),
                 ('timestamp', _is_int, 'an integer (whole seconds)'),
                 ('width', lambda v: _is_number(v) and v > 0, 'a positive number'),
                 ('height', lambda v: _is_number(v) and v > 0, 'a positive number')]
        wrong = [f'{k} must be {want}, got {_type_name(img[k])}' for k, ok, want in types
                 if not ok(img[k])]
        if wrong:
            bad(f'{where} (id {img["id"]!r}): ' + '; '.join(wrong))
            continue
        where = f'image #{i} (id {img["id"]}, {img["movie"]} {img["timestamp"]})'
        if img['id'] in ids:
            bad(f'{where}: image id {img["id"]} appears twice (also image #{ids[img["id"]]})')
        ids.setdefault(img['id'], i)
        key = (img['movie'], img['timestamp'])
        if key in keyframes:
            bad(f'{where}: keyframe {key[0]} {key[1]} appears twice (also image '
                f'#{keyframes[key]})')
        keyframes.setdefault(key, i)
        if recorded is not None:
            if img['movie'] not in recorded:
                bad(f'{where}: movie not in "movie_index"')
            elif img['id'] != image_id(recorded[img['movie']], img['timestamp']):
                bad(f'{where}: id should be {image_id(recorded[img["movie"]], img["timestamp"])}'
                    f' (movie index {recorded[img["movie"]]} × 10000 + timestamp)')
    ann_ids = {}
    for i, ann in enumerate(anns):
        where = f'annotation #{i}'
        if not isinstance(ann, dict):
            bad(f'{where} is {_type_name(ann)}, not an object')
            continue
        absent = [k for k in ('image_id', 'bbox') if k not in ann]
        if require_actions and 'action_ids' not in ann:
            absent.append('action_ids')
        if absent:
            bad(f'{where} (id {ann.get("id", "?")}) lacks key(s) {absent}')
            continue
        where = f'annotation #{i} (id {ann.get("id", "?")})'
        if 'id' in ann:
            if not _is_int(ann['id']):
                bad(f'{where}: id must be an integer, got {_type_name(ann["id"])}')
            elif ann['id'] in ann_ids:
                bad(f'{where}: annotation id {ann["id"]} appears twice (also annotation '
                    f'#{ann_ids[ann["id"]]})')
            else:
                ann_ids[ann['id']] = i
        if not _is_int(ann['image_id']):
            bad(f'{where}: image_id must be an integer, got {_type_name(ann["image_id"])}')
        elif ann['image_id'] not in ids:
            bad(f'{where} refers to unknown image_id {ann["image_id"]}')
        bbox = ann['bbox']
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_number, bbox))):
            bad(f'{where}: bbox must be 4 finite numbers [x, y, w, h]; got {_type_name(bbox)}')
        elif bbox[2] < 0 or bbox[3] < 0:
            bad(f'{where}: bbox {bbox} has a negative width or height ([x, y, w, h])')
        if 'action_ids' in ann:
            acts = ann['action_ids']
            if not (isinstance(acts, list) and all(_is_int(a) and a >= 1 for a in acts)):
                bad(f'{where}: action_ids must be a list of positive integers; got '
                    f'{_type_name(acts)}')
    return problems


def validate_min_json(data, path: Optional[PathLike] = None,
                      require_actions: bool = False) -> dict:
    """``data`` when :func:`check_min_json` finds nothing, else raise its first problem."""
    problems = check_min_json(data, path, require_actions, limit=1)
    if problems:
        raise problems[0]
    data.setdefault('annotations', [])
    data.setdefault('categories', [dict(id=1, name='person', supercategory='person')])
    return data


def load_min_json(path: PathLike, require_actions: bool = False) -> dict:
    """Read and validate a ``*_min.json`` (see :func:`check_min_json`)."""
    return validate_min_json(load_json(path, 'annotation JSON'), path, require_actions)


__all__ = [
    'IMAGE_ID_STRIDE', 'build_min_json', 'check_min_json', 'image_id', 'keyframe_image_ids',
    'load_json', 'load_min_json', 'movie_numbering', 'read_movie_list', 'validate_min_json',
    'write_json'
]
