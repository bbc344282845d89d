"""Person detections (the boxes validation/test pool actions on), in every format users have.

* COCO results JSON (ours, VAD/AlphAction's ``ava_val_det_person_bbox.json``)::

      [{"image_id", "bbox": [x, y, w, h] pixels, "score"[, "category_id"][, "movie",
        "timestamp"]}]

  Image ids are those of a ``*_min.json``. An id that does not belong to that file's movie
  numbering is an error (with counts), never reassigned; an entry carrying ``movie`` (or
  ``video_id``) and ``timestamp`` must agree with its id. Non-person categories are dropped.
* Person-box CSV (ours and PySlowFast's predicted boxes ``ava_val_predicted_boxes.csv``)::

      video_id,timestamp,x1,y1,x2,y2[,action_id],score     (boxes normalised xyxy)

  PySlowFast leaves the action column empty; a box repeated on several rows (one per action)
  counts once, with its highest score.
* mmaction2 proposals pickle (``ava_dense_proposals_{train,val}.FAIR.recall_93.9.pkl``)::

      {"<movie>,<%04d timestamp>": ndarray (N, 5) normalised x1, y1, x2, y2, score}

  (or (N, 4) without scores: score 1). Read with a restricted unpickler that can only
  rebuild numpy arrays: no code from the file runs.

Keyed formats (CSV, pickle) cover keyframes the ``*_min.json`` may not have (a proposals file
covers every second); those are counted and skipped, but a file that meets none of the
JSON's keyframes is an error.
"""
import io
import math
import os
import pickle
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from .box_csv import CSVBox, canonical_key, iter_csv_rows
from .errors import AVAFormatError
from .min_json import IMAGE_ID_STRIDE, keyframe_image_ids, load_json, movie_numbering

PathLike = Union[str, os.PathLike]
_BOX_TOLERANCE = 1e-6  # float error allowed outside [0, 1] in normalised proposals


class PersonDetections(NamedTuple):
    """Detections matched to the images of a ``*_min.json``.

    ``boxes``: image id -> float64 (M, 4) xyxy pixels of that image; ``scores``: image id ->
    float64 (M,). ``skipped``: detections on keyframes the JSON does not have (ignored).
    ``source_format``: 'coco', 'csv' or 'proposals-pkl'.
    """
    boxes: Dict[int, np.ndarray]
    scores: Dict[int, np.ndarray]
    skipped: int
    source_format: str

    def __len__(self) -> int:
        return sum(len(s) for s in self.scores.values())


# --------------------------------------------------------------------------- safe pickle
def _reconstruct_array(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f'only numpy.ndarray may be rebuilt, not {subtype!r}')
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _latin1_encode(text, encoding='latin1'):
    # Python 3 pickles of bytes at protocol <= 2 go through _codecs.encode(str, 'latin1')
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise pickle.UnpicklingError('only latin1-encoded bytes may be rebuilt')
    return text.encode('latin1')


def _empty_bytes(*args):
    # protocol <= 2 writes b'' as a call of bytes() without arguments
    if args:
        raise pickle.UnpicklingError('bytes() may only be called without arguments')
    return b''


def _frombuffer(buf, dtype, shape, order):
    # protocol 5 writes arrays as numpy's _frombuffer(buffer, dtype, shape, order)
    if not isinstance(buf, (bytes, bytearray, memoryview)) or not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError('malformed array')
    return np.frombuffer(buf, dtype).reshape(shape, order=order).copy()


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, strings, numbers and numpy arrays; refuses every other global,
    so no callable named by the file runs (the pickle module's documented way to restrict
    unpickling: override ``find_class``)."""

    _ALLOWED = {
        ('numpy.core.multiarray', '_reconstruct'): _reconstruct_array,
        ('numpy._core.multiarray', '_reconstruct'): _reconstruct_array,
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): np.dtype,
        ('numpy.core.numeric', '_frombuffer'): _frombuffer,
        ('numpy._core.numeric', '_frombuffer'): _frombuffer,
        ('_codecs', 'encode'): _latin1_encode,
        ('__builtin__', 'bytes'): _empty_bytes,
        ('builtins', 'bytes'): _empty_bytes,
    }

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f'refusing {module}.{name}: a proposals file holds '
                                         f'only numpy arrays') from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError('persistent ids are not allowed')


def load_array_pickle(path: PathLike):
    """Unpickle a file that may hold only containers of numbers, strings and numpy arrays.

    Python 2 pickles (mmaction2's FAIR proposals) are read with ``encoding='latin1'``, as
    numpy documents for them. Raises :class:`AVAFormatError` for anything else.
    """
    path = Path(path)
    if not path.is_file():
        raise AVAFormatError(path, None, 'proposals pickle not found')
    data = path.read_bytes()
    try:
        return _ArrayUnpickler(io.BytesIO(data), encoding='latin1').load()
    except pickle.UnpicklingError as e:
        raise AVAFormatError(path, None, f'not a proposals pickle: {e}') from None
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            MemoryError, OverflowError) as e:
        raise AVAFormatError(path, None, f'not a readable pickle ({type(e).__name__}: '
                             f'{str(e)[:200]})') from None


def read_proposals_pkl(path: PathLike) -> Dict[Tuple[str, int], Tuple[np.ndarray, np.ndarray]]:
    """mmaction2 proposals pickle -> {(movie, timestamp): (boxes (N, 4) normalised xyxy,
    scores (N,))}."""
    obj = load_array_pickle(path)
    if not isinstance(obj, dict):
        raise AVAFormatError(path, None, f'expected a dict {{"movie,ts": array (N, 5)}}, got '
                             f'{type(obj).__name__}')
    keys, arrays = [], []
    for key, arr in obj.items():
        where = f'entry {key!r}'
        if isinstance(key, bytes):
            key = key.decode('latin1')
        movie, _, ts = str(key).rpartition(',')
        if ts.isdigit():  # the common case, '0902'
            k = (movie, int(ts))
        else:
            try:
                k = canonical_key(movie, ts)
            except ValueError:
                k = None
        if not movie or k is None or not isinstance(k[1], int):
            raise AVAFormatError(path, None, f'{where}: key must be "<movie>,<timestamp>"')
        if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[1] not in (4, 5) \
                or arr.dtype.kind not in 'fiu':
            raise AVAFormatError(path, None, f'{where}: expected a numeric array (N, 5) '
                                 f'x1, y1, x2, y2, score; got {getattr(arr, "shape", arr)!r}')
        if arr.shape[1] == 4:
            arr = np.concatenate([arr, np.ones((len(arr), 1), arr.dtype)], axis=1)
        keys.append(k)
        arrays.append(arr)
    if not arrays:
        return {}
    # one vectorised check over every box of the file (57k keyframes at AVA-val scale)
    flat = np.concatenate(arrays).astype(np.float64)
    boxes = flat[:, :4]
    with np.errstate(invalid='ignore'):
        bad = ~np.isfinite(flat).all(axis=1)
        outside = ((boxes < -_BOX_TOLERANCE) | (boxes > 1 + _BOX_TOLERANCE)).any(axis=1)
        flipped = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    for mask, reason in ((bad, 'non-finite value'),
                         (outside, 'box coordinates outside [0, 1] (proposals are normalised)'),
                         (flipped, 'a box has x2 < x1 or y2 < y1')):
        if mask.any():
            row = int(np.argmax(mask))
            entry = int(np.searchsorted(np.cumsum([len(a) for a in arrays]), row, 'right'))
            movie, t = keys[entry]
            raise AVAFormatError(path, None, f"entry '{movie},{t:04d}': {reason}")
    np.clip(boxes, 0, 1, out=boxes)
    splits = np.cumsum([len(a) for a in arrays])[:-1]
    return {k: (b[:, :4], b[:, 4]) for k, b in zip(keys, np.split(flat, splits))}


# --------------------------------------------------------------------------- CSV
def read_person_box_csv(path: PathLike) -> Dict[Tuple[str, int],
                                                Tuple[np.ndarray, np.ndarray]]:
    """Person-box CSV (module docstring) -> {(movie, timestamp): (boxes (N, 4) normalised
    xyxy, scores (N,))}; a 6-column row scores 1; a box on several rows keeps its highest
    score."""
    merged: Dict[Tuple[str, int], Dict[tuple, float]] = {}
    for line, row in iter_csv_rows(path, 'persons', 'person-box CSV'):
        if not isinstance(row, CSVBox):
            merged.setdefault(row, {})
            continue
        score = 1.0 if row.extra is None else row.extra
        boxes = merged.setdefault((row.movie, row.timestamp), {})
        boxes[row.box] = max(score, boxes.get(row.box, -math.inf))
    return {k: (np.array(list(v), np.float64).reshape(-1, 4), np.array(list(v.values())))
            for k, v in merged.items()}


# --------------------------------------------------------------------------- COCO results
def _coco_entries(path, dets) -> List[Tuple[int, List[float], float, Optional[str],
                                             Optional[int]]]:
    if not isinstance(dets, list):
        raise AVAFormatError(path, None, 'expected a COCO results list '
                             '[{"image_id", "bbox": [x, y, w, h], "score"}, ...]')
    out = []
    for i, d in enumerate(dets):
        where = f'detection #{i}'
        if not isinstance(d, dict):
            raise AVAFormatError(path, None, f'{where} is {type(d).__name__}, not an object')
        absent = [k for k in ('image_id', 'bbox', 'score') if k not in d]
        if absent:
            raise AVAFormatError(path, None, f'{where} lacks key(s) {absent}')
        img, bbox, score = d['image_id'], d['bbox'], d['score']
        if not isinstance(img, int) or isinstance(img, bool):
            raise AVAFormatError(path, None, f'{where}: image_id must be an integer, got '
                                 f'{img!r}')
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in bbox)):
            raise AVAFormatError(path, None, f'{where}: bbox must be 4 finite numbers '
                                 f'[x, y, w, h]; got {str(bbox)[:100]}')
        if bbox[2] < 0 or bbox[3] < 0:
            raise AVAFormatError(path, None, f'{where}: bbox {bbox} has a negative width or '
                                 f'height ([x, y, w, h])')
        if not (isinstance(score, (int, float)) and not isinstance(score, bool)
                and math.isfinite(score)):
            raise AVAFormatError(path, None, f'{where}: score must be a finite number, got '
                                 f'{score!r}')
        if d.get('category_id', 1) != 1:
            continue
        movie = d.get('movie', d.get('video_id'))
        ts = d.get('timestamp')
        out.append((img, [float(v) for v in bbox], float(score),
                    None if movie is None else str(movie), ts))
    return out


# --------------------------------------------------------------------------- all formats
def detection_format(path: PathLike) -> str:
    """'coco', 'csv' or 'proposals-pkl', by extension (then by content for unknown ones)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == '.json':
        return 'coco'
    if ext == '.csv':
        return 'csv'
    if ext in ('.pkl', '.pickle'):
        return 'proposals-pkl'
    path = Path(path)
    head = path.read_bytes()[:1] if path.is_file() else b''
    if head == b'\x80':
        return 'proposals-pkl'
    if head in (b'[', b'{'):
        return 'coco'
    raise AVAFormatError(path, None, 'unknown detections format: expected .json (COCO '
                         'results), .csv (video_id,timestamp,x1,y1,x2,y2[,action],score) or '
                         '.pkl (mmaction2 proposals)')


def read_person_detections(path: PathLike, min_json: dict,
                           ann_path: Optional[PathLike] = None) -> PersonDetections:
    """Read person detections in any format (module docstring), matched to the images of
    ``min_json`` (a validated ``*_min.json`` dict, from ``ann_path``). Boxes come out in
    pixels of each image; every score is kept (thresholds are the caller's).

    Raises:
        AVAFormatError: a malformed file; COCO image ids that do not belong to the JSON's
            movie numbering, or whose movie/timestamp fields contradict the id (with counts);
            a keyed file none of whose keyframes is in the JSON.
    """
    path = Path(path)
    fmt = detection_format(path)
    ann = os.fspath(ann_path) if ann_path is not None else 'the annotation JSON'
    images = {int(img['id']): img for img in min_json['images']}
    boxes: Dict[int, List] = {}
    scores: Dict[int, List] = {}
    skipped = 0

    def add(img_id, xyxy, score):
        boxes.setdefault(img_id, []).append(xyxy)
        scores.setdefault(img_id, []).append(score)

    if fmt == 'coco':
        entries = _coco_entries(path, load_json(path, 'detections JSON'))
        numbering = movie_numbering(min_json)
        index_movie = {i: m for m, i in (numbering or {}).items()}
        foreign, contradicting, examples = 0, 0, []
        for img_id, (x, y, w, h), score, movie, ts in entries:
            img = images.get(img_id)
            if img is None:
                index, t = divmod(img_id, IMAGE_ID_STRIDE)
                if index in index_movie:
                    skipped += 1  # a keyframe of a known movie that the JSON lacks
                else:
                    foreign += 1
                    if len(examples) < 3:
                        examples.append(str(img_id))
                continue
            if (movie is not None and movie != img['movie']) or (
                    ts is not None and canonical_key('', ts)[1] != int(img['timestamp'])):
                contradicting += 1
                if len(examples) < 3:
                    examples.append(f'{img_id} says {movie} {ts}, the JSON says '
                                    f'{img["movie"]} {img["timestamp"]}')
                continue
            add(img_id, [x, y, x + w, y + h], score)
        if foreign or contradicting:
            scheme = (min_json.get('info') or {}).get('movie_numbering') or (
                'derived from its image ids' if numbering else 'unknown')
            raise AVAFormatError(path, None, (
                f'{foreign + contradicting} of {len(entries)} detections do not belong to {ann}'
                f' ({foreign} with image ids of movies it does not number, {contradicting} '
                f'whose movie/timestamp contradict the id; e.g. {"; ".join(examples)}). The '
                f'numbering of {ann}: {scheme}. Detections made with the official movie list '
                f'(VAD/AlphAction) need a JSON built with tools/data/ava/csv_to_min_json.py '
                f'--movie-list ava_file_names_trainval_v2.1.txt; or convert CSV detections with '
                f'tools/data/ava/dets_to_json.py'))
    else:
        keyed = read_person_box_csv(path) if fmt == 'csv' else read_proposals_pkl(path)
        ids = keyframe_image_ids(min_json)
        matched = 0
        for key, (norm, sc) in keyed.items():
            img_id = ids.get(key)
            if img_id is None:
                skipped += len(sc)
                continue
            matched += 1
            w, h = float(images[img_id]['width']), float(images[img_id]['height'])
            boxes[img_id] = norm * np.array([w, h, w, h])  # one key per keyframe
            scores[img_id] = sc
        if keyed and not matched:
            example = next(iter(keyed))
            raise AVAFormatError(path, None, f'none of its {len(keyed)} keyframes (e.g. '
                                 f'{example[0]} {example[1]}) is in {ann}: another split?')
    return PersonDetections(
        boxes={k: np.asarray(v, np.float64).reshape(-1, 4) for k, v in boxes.items()},
        scores={k: np.asarray(v, np.float64) for k, v in scores.items()},
        skipped=skipped, source_format=fmt)


def to_coco_results(dets: PersonDetections, min_json: Optional[dict] = None) -> List[dict]:
    """:class:`PersonDetections` -> a COCO results list (bbox [x, y, w, h] pixels), sorted
    by image id then descending score. With ``min_json`` each entry also carries the
    keyframe's ``movie`` and ``timestamp`` (COCO readers ignore them; ours check them against
    the id, so the file cannot be silently read against a JSON numbered otherwise)."""
    images = {int(img['id']): img for img in (min_json or {}).get('images', [])}
    out = []
    for img_id in sorted(dets.boxes):
        b, s = dets.boxes[img_id], dets.scores[img_id]
        key = {}
        if img_id in images:
            key = dict(movie=images[img_id]['movie'], timestamp=int(images[img_id]['timestamp']))
        for j in np.argsort(-s, kind='stable'):
            x1, y1, x2, y2 = (float(v) for v in b[j])
            out.append(dict(image_id=int(img_id), category_id=1, score=float(s[j]),
                            bbox=[x1, y1, x2 - x1, y2 - y1], **key))
    return out
