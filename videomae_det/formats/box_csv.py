"""AVA box CSVs: ground truth, results/detections, excluded timestamps (read and write).

* Box CSV (ground truth and detections), one row per (keyframe, box, action)::

      video_id,timestamp,x1,y1,x2,y2,action_id[,person_id | score]

  Boxes are xyxy normalised to [0, 1]. A ground-truth row ends with the person id, a
  detection row with its score; a 7-column row has neither (score 1.0, as the reference
  reads it). A 2-column row ``video_id,timestamp`` marks an annotated keyframe without
  boxes.
* Excluded-timestamps CSV: ``video_id,timestamp`` rows.
* Person-box CSV (detections/proposals): ``video_id,timestamp,x1,y1,x2,y2[,action_id],score``
  (PySlowFast's predicted boxes leave the action column empty); see :func:`iter_csv_rows`.

One set of rules for every row (both readers below share :func:`_check_row`): coordinates
are numbers in [0, 1] with x1 <= x2 and y1 <= y2 (a zero-area box is legal in a file; the
dataset drops it with a warning); an action id is a positive integer (class sets beyond
1..80 are allowed: which ids count is the label map's business); scores are finite. A UTF-8
byte-order mark is skipped; a line longer than ``MAX_LINE_BYTES`` is a bad row; an
excluded-timestamps file may be empty.

Keyframe keys compare numerically, as the official script does (``0902`` == ``902``).

The CSV reader is built for the 14M-row detection files of AVA val: it reads the file in
cache-sized chunks of bytes and parses the fields with vectorised numpy on 8-byte words (an
exact, correctly-rounded decimal fast path; Python's ``float`` for anything unusual),
parses each distinct box text once (a box repeats on one row per action), then validates
all rows at once. A malformed row raises :class:`AVAFormatError` naming the file, the
first bad line and what is wrong.
"""
import csv
import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Dict, Hashable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import QUOTE_CHARS, AVAFormatError

PathLike = Union[str, os.PathLike]
# (video_id, timestamp): timestamp is an int or a Decimal; Decimal(902) == 902 and they hash
# alike, so keys from CSV files and from the training loop meet in one dict.
Key = Tuple[str, Hashable]

_CHUNK_BYTES = 4 << 20  # small enough for the per-chunk arrays to stay in cache
MAX_LINE_BYTES = 128 << 10  # an official row is < 100 bytes; longer is not an AVA row
_BOM = b'\xef\xbb\xbf'
_NL, _CR, _COMMA, _DOT, _ZERO, _QUOTE = 10, 13, 44, 46, 48, 34
_POW10 = np.array([10.0**k for k in range(8)])


@dataclass
class AVARows:
    """The rows of an AVA box CSV as flat arrays, in file order.

    Attributes:
        keys: keyframe keys ``(video_id, timestamp)`` in order of first appearance; this
            includes keyframes that only have 2-column rows.
        key_index: int32 (N,), row -> index into ``keys``.
        boxes: float64 (N, 4) xyxy normalised to [0, 1]; or, when ``box_index`` is given,
            a table of distinct boxes (B, 4) that ``box_index`` (N,) points into (detector
            outputs: each box carries 80 rows). Use :meth:`row_boxes`.
        labels: int64 (N,), AVA action ids as written (not yet filtered by a label map).
        scores: float64 (N,): the detection score; for ground truth the person id (the
            reference sorts ground truth by it); 1.0 for 7-column rows.
        path: the file the rows came from (None for in-memory rows), for messages.
    """
    keys: List[Key]
    key_index: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    path: Optional[str] = None
    box_index: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.labels)

    def row_boxes(self, rows=slice(None)) -> np.ndarray:
        """(n, 4) xyxy boxes of the given rows (index array or slice)."""
        if self.box_index is None:
            return self.boxes[rows]
        return self.boxes[self.box_index[rows]]


def canonical_key(video_id: str, timestamp) -> Key:
    """Key of a keyframe with the timestamp as a number (``'0902'`` -> 902).

    Raises ValueError when the timestamp is not a finite number. Like the official script
    (``'%.6f' % Decimal(ts)``) timestamps compare to 6 decimals.
    """
    if isinstance(timestamp, (int, np.integer)):
        return (video_id, int(timestamp))
    try:
        value = Decimal(str(timestamp).strip())
    except InvalidOperation:
        raise ValueError(f'timestamp {timestamp!r} is not a number') from None
    if not value.is_finite():
        raise ValueError(f'timestamp {timestamp!r} is not a finite number')
    value = value.quantize(Decimal('0.000001'))
    return (video_id, int(value) if value == value.to_integral_value() else value)


# ---------------------------------------------------------------------------------------
# Row validation in plain Python: the slow path (quoted CSV), the error diagnosis and the
# reference the vectorised parser is tested against.
# ---------------------------------------------------------------------------------------

# Column counts per kind of file. 'boxes': ground truth and results (7 columns = no score,
# 1.0 as the reference reads it); 'keys': excluded timestamps; 'annotations': boxes to use as
# people (6 columns = no action; the 8th column is the person id); 'persons': detections
# (6 columns = no score; 7 = score; 8 = action id, possibly empty as PySlowFast writes it,
# then score).
_COLUMNS = {'boxes': (2, 7, 8), 'keys': (2, ), 'annotations': (2, 6, 7, 8),
            'persons': (2, 6, 7, 8)}


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f'{what} {text!r} is not a number') from None
    return value


def _action_id(text: str) -> int:
    try:
        label = int(text)
    except ValueError:
        raise ValueError(f'action id {text!r} is not an integer') from None
    if label < 1:
        raise ValueError(f'action id {label} is not a positive integer')
    return label


def _check_row(fields: Sequence[str], kind: str):
    """Parse one CSV row of a ``kind`` (see ``_COLUMNS``) with the rules of the module.

    Returns ``(key, box or None, label, score)``; raises ValueError saying what is wrong.
    For 'boxes': label int (0 on a 2-column row) and score float (1.0 without one). For
    'annotations' and 'persons': label None when absent/empty, score None when absent (for
    'annotations' the score slot holds the person id).
    """
    allowed = _COLUMNS[kind]
    if len(fields) not in allowed:
        raise ValueError(f'expected {" or ".join(map(str, allowed))} columns, '
                         f'got {len(fields)}')
    key = canonical_key(fields[0], fields[1])
    if len(fields) == 2:
        return (key, None, 0, 0.0) if kind == 'boxes' else (key, None, None, None)
    box = []
    for name, text in zip(('x1', 'y1', 'x2', 'y2'), fields[2:6]):
        value = _number(text, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f'{name} = {text} is outside [0, 1] (boxes are normalised)')
        box.append(value)
    if box[2] < box[0]:
        raise ValueError(f'x2 = {fields[4]} < x1 = {fields[2]}')
    if box[3] < box[1]:
        raise ValueError(f'y2 = {fields[5]} < y1 = {fields[3]}')
    n = len(fields)
    if kind == 'persons':
        label = _action_id(fields[6]) if n == 8 and fields[6].strip() else None
        score = None if n == 6 else _number(fields[-1], 'score')
        if score is not None and not np.isfinite(score):
            raise ValueError(f'score is {fields[-1]}, not a finite number')
        return key, box, label, score
    label = _action_id(fields[6]) if n >= 7 else None
    score = 1.0 if kind == 'boxes' else None
    if n == 8:
        try:
            score = float(fields[7])
        except ValueError:
            raise ValueError(f'last column {fields[7]!r} (score / person id) is not a number'
                             ) from None
        if not np.isfinite(score):
            raise ValueError(f'last column (score / person id) is {fields[7]}, '
                             f'not a finite number')
    return key, box, label, score


def _fields(text: str) -> List[str]:
    """CSV fields of one line (ValueError for what the csv module refuses, e.g. NUL)."""
    if len(text.encode('utf-8', 'replace')) > MAX_LINE_BYTES:
        raise ValueError(f'line longer than {MAX_LINE_BYTES // 1024} KB (not an AVA row)')
    try:
        return next(csv.reader([text]), [])
    except csv.Error as e:
        raise ValueError(f'not a CSV row ({e})') from None


def _diagnose(path, line_no: int, text: str, kind: str) -> AVAFormatError:
    try:
        _check_row(_fields(text), kind)
        reason = 'malformed row'
    except ValueError as e:
        reason = str(e)
    return AVAFormatError(path, line_no, reason, text)


def _iter_lines(path: Path, what: str) -> Iterator[Tuple[int, str]]:
    """(line number, text without line end) of a UTF-8 text file (BOM skipped); a line over
    ``MAX_LINE_BYTES`` and bytes that are not UTF-8 are :class:`AVAFormatError`."""
    if not path.is_file():
        raise AVAFormatError(path, None, f'{what} file not found')
    with open(path, 'rb') as f:
        line_no = 0
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            line_no += 1
            if line_no == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b'\n'):
                raise AVAFormatError(path, line_no, f'line longer than {MAX_LINE_BYTES // 1024} '
                                     f'KB (not an AVA row)', raw[:QUOTE_CHARS].decode(
                                         'utf-8', 'replace'))
            try:
                text = raw.decode('utf-8')
            except UnicodeDecodeError as e:
                raise AVAFormatError(path, line_no, f'not UTF-8 text (byte {e.start}: '
                                     f'{raw[e.start:e.start + 1]!r}); is this a {what} file?'
                                     ) from None
            yield line_no, text.rstrip('\r\n')


class CSVBox(NamedTuple):
    """One box row of :func:`iter_csv_rows`: ``box`` xyxy normalised to [0, 1];
    ``action_id`` a positive int or None (no / empty action column); ``extra`` the person id
    (kind 'annotations') or the score (kind 'persons'), None when the row has none."""
    movie: str
    timestamp: Hashable
    box: Tuple[float, float, float, float]
    action_id: Optional[int]
    extra: Optional[float]


def iter_csv_rows(path: PathLike, kind: str = 'annotations',
                  what: str = 'box CSV') -> Iterator[Tuple[int, Union[Key, CSVBox]]]:
    """Yield ``(line number, row)`` of a box CSV, row by row (small files, tools).

    ``row`` is a key ``(video_id, timestamp)`` for a 2-column row, else a :class:`CSVBox`.
    ``kind``: 'annotations' (``video_id,timestamp,x1,y1,x2,y2[,action_id[,person_id]]``) or
    'persons' (``video_id,timestamp,x1,y1,x2,y2[[,action_id],score]``, PySlowFast's empty
    action column allowed). Same rules as :func:`read_box_csv`; blank lines are skipped.
    """
    if kind not in ('annotations', 'persons'):
        raise ValueError(f"kind must be 'annotations' or 'persons', got {kind!r}")
    path = Path(path)
    for line_no, text in _iter_lines(path, what):
        if not text.strip():
            continue
        try:
            fields = [f.strip() for f in _fields(text)]
            key, box, label, extra = _check_row(fields, kind)
        except ValueError as e:
            raise AVAFormatError(path, line_no, str(e), text) from None
        yield line_no, (key if box is None else CSVBox(key[0], key[1], tuple(box), label, extra))


class _KeyTable:
    """Keys in first-appearance order and the index of each."""

    def __init__(self):
        self.keys: List[Key] = []
        self.index: Dict[Key, int] = {}

    def add(self, key: Key) -> int:
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.keys)
            self.keys.append(key)
        return i


class _Chunk:
    """Parsed rows of a chunk; ``boxes`` (B, 4) distinct boxes, ``box_index`` (N,) into it."""

    def __init__(self, key_index, boxes, labels, scores, box_index=None):
        self.key_index, self.boxes, self.labels, self.scores = key_index, boxes, labels, scores
        self.box_index = (np.arange(len(labels), dtype=np.int32) if box_index is None else
                          box_index)

    @staticmethod
    def empty() -> '_Chunk':
        return _Chunk(np.zeros(0, np.int32), np.zeros((0, 4)), np.zeros(0, np.int64),
                      np.zeros(0))


def _parse_lines_python(lines: List[str], first_line: int, kind: str, keys: _KeyTable,
                        path) -> _Chunk:
    key_index, boxes, labels, scores = [], [], [], []
    for i, line in enumerate(lines):
        try:
            fields = _fields(line.rstrip('\r\n'))
            if not fields:
                continue
            key, box, label, score = _check_row(fields, kind)
        except ValueError as e:
            raise AVAFormatError(path, first_line + i, str(e), lines[i].rstrip('\r\n')) from None
        k = keys.add(key)
        if box is not None:
            key_index.append(k)
            boxes.append(box)
            labels.append(label)
            scores.append(score)
    return _Chunk(
        np.asarray(key_index, np.int32), np.asarray(boxes, np.float64).reshape(-1, 4),
        np.asarray(labels, np.int64), np.asarray(scores, np.float64))


# ---------------------------------------------------------------------------------------
# Vectorised parsing.
# ---------------------------------------------------------------------------------------

def _u64_windows(buf: np.ndarray) -> np.ndarray:
    """Overlapping little-endian uint64 view: ``w[i]`` holds ``buf[i:i + 8]``."""
    return np.ndarray(shape=(len(buf) - 7, ), dtype=np.uint64, buffer=buf, strides=(1, ))


def _u64(x: int) -> np.uint64:
    return np.uint64(x)


_BYTES = {c: _u64(int.from_bytes(bytes([c]) * 8, 'little')) for c in (0x0F, 0x30, 0x06, 0x2E,
                                                                       0x7F, 0xF0)}
# Field of L characters ending a little-endian window: KEEP[L] keeps its bytes (the top L),
# FILL[L] writes '0' into the bytes before it.
_KEEP = np.array([(~((1 << (8 * (8 - n))) - 1)) & (2**64 - 1) for n in range(9)], np.uint64)
_FILL = np.array([int.from_bytes(b'0' * (8 - n) + b'\0' * n, 'little') for n in range(9)],
                 np.uint64)


def _swar_fields(win: np.ndarray, length: np.ndarray):
    """Parse fields of at most 8 characters ``digits[.digits]`` held in uint64 windows.

    ``win[i]`` holds the 8 bytes that end with field ``i``'s last character (the field is
    the top ``length[i]`` bytes). Everything is done on whole words (SWAR): find the dot,
    close the gap it leaves, check every byte is a digit, and combine the eight digits in
    three multiply-add steps. The mantissa (< 1e8) divided by 10**decimals is one
    correctly-rounded IEEE division, i.e. exactly Python's ``float(text)``.

    Returns (values float64, ok bool, has_dot bool); ``ok`` is False where the fast path
    does not apply (sign, exponent, spaces, longer fields, not a number, ...).
    """
    one, b8 = _u64(1), _u64(8)
    ok = length <= 8
    lc = np.minimum(length, 8)
    f = (win & _KEEP[lc]) | _FILL[lc]
    # Exact per-byte "equals '.'" test: 0x80 in each byte of y that is zero.
    y = f ^ _BYTES[0x2E]
    dots = ~((((y & _BYTES[0x7F]) + _BYTES[0x7F]) | y) | _BYTES[0x7F])
    ndot = np.bitwise_count(dots)
    has_dot = ndot == 1
    ok &= (ndot <= 1) & (length > ndot)  # at least one digit (and not empty)
    below = (dots >> _u64(7)) - one  # bytes before the dot (all ones if none)
    upto = (dots << one) - one  # bytes up to and with the dot (all ones if none, or last)
    closed = ((f & below) << b8) | (f & ~upto) | _u64(0x30)
    sel = _u64(0) - has_dot.astype(np.uint64)
    d = (closed & sel) | (f & ~sel)
    ok &= (d & _BYTES[0xF0]) == _BYTES[0x30]
    ok &= (((d & _BYTES[0x0F]) + _BYTES[0x06]) & _BYTES[0xF0]) == 0
    # A dot at byte j leaves 7 - j decimals; dots - 1 has 8j + 7 bits set (64 if no dot).
    frac = (np.uint8(70) - np.bitwise_count(dots - one)) >> np.uint8(3)
    v = d - _BYTES[0x30]
    v = (v * _u64(10) + (v >> b8)) & _u64(0x00FF00FF00FF00FF)
    v = (v * _u64(100) + (v >> _u64(16))) & _u64(0x0000FFFF0000FFFF)
    v = (v * _u64(10000) + (v >> _u64(32))) & _u64(0xFFFFFFFF)
    values = v.astype(np.float64) / _POW10[frac]
    values[~ok] = 0.0
    return values, ok, has_dot


_SWAR_BLOCK = 1 << 15  # elements per step: the temporaries stay in cache


def _parse_numbers(windows, buf, spans, integer):
    """Numbers of the fields ``buf[start:end]`` for each (start, end) array pair in
    ``spans``: the SWAR fast path in cache-sized blocks, Python's float/int for the rest.

    ``windows`` is :func:`_u64_windows` of the buffer padded with 8 bytes in front.
    Returns one array per span (float64, or int64 with ``_NO_INT`` where not an integer;
    NaN where not a number).
    """
    start = np.concatenate([a for a, _ in spans])
    end = np.concatenate([b for _, b in spans])
    win = windows[end]  # the 8 bytes ending at the field's end (buffer offset by 8)
    length = end - start
    values = np.empty(len(win), np.float64)
    ok = np.empty(len(win), bool)
    for s in range(0, len(win), _SWAR_BLOCK):
        e = s + _SWAR_BLOCK
        v, o, has_dot = _swar_fields(win[s:e], length[s:e])
        values[s:e] = v
        ok[s:e] = o & ~has_dot if integer else o
    if integer:
        values = values.astype(np.int64)
    if not ok.all():
        values = _python_fallback(buf, start, end, ok, values,
                                  _clamped_int if integer else float)
    return np.split(values, np.cumsum([len(a) for a, _ in spans])[:-1])


_NO_INT = np.iinfo(np.int64).min


def _clamped_int(text: str) -> int:
    # Huge ids are simply outside any label map; keep them representable.
    return max(min(int(text), 1 << 62), -(1 << 62))


def _python_fallback(buf, start, end, ok, values, convert):
    """Parse the fields the fast path refused with ``convert``; NaN / _NO_INT on failure."""
    for i in np.flatnonzero(~ok):
        text = bytes(buf[start[i]:end[i]]).decode('utf-8', 'replace')
        try:
            values[i] = convert(text)
        except (ValueError, OverflowError):
            values[i] = np.nan if values.dtype.kind == 'f' else _NO_INT
    return values


def _parse_chunk(buf: np.ndarray, first_line: int, kind: str, keys: _KeyTable, path):
    """Parse a chunk of whole lines (``buf`` ends with a newline)."""
    empty = _Chunk.empty()
    if (buf == _QUOTE).any() or (buf == 0).any():
        # Quoted fields (or NUL bytes): let the csv module handle it.
        lines = bytes(buf).decode('utf-8', 'replace').splitlines(keepends=True)
        return _parse_lines_python(lines, first_line, kind, keys, path)
    # 8 zero bytes on both sides: every field has a full 8-byte window ending with it,
    # and every key a window starting with it.
    padded = np.zeros(len(buf) + 16, np.uint8)
    padded[8:-8] = buf
    buf = padded[8:-8]
    windows = _u64_windows(padded)

    nl = np.flatnonzero(buf == _NL)
    line_start = np.empty_like(nl)
    line_start[0] = 0
    line_start[1:] = nl[:-1] + 1
    line_end = nl - (buf[np.maximum(nl - 1, 0)] == _CR)
    line_end = np.maximum(line_end, line_start)
    line_no = first_line + np.arange(len(nl))
    keep = line_end > line_start  # blank lines carry nothing
    line_start, line_end, line_no = line_start[keep], line_end[keep], line_no[keep]
    n = len(line_start)
    if n == 0:
        return empty

    def fail(row: int):
        text = bytes(buf[line_start[row]:line_end[row]]).decode('utf-8', 'replace')
        return _diagnose(path, int(line_no[row]), text, kind)

    too_long = (line_end - line_start) > MAX_LINE_BYTES
    if too_long.any():
        raise fail(int(np.argmax(too_long)))

    commas = np.flatnonzero(buf == _COMMA)
    per_line = _COLUMNS[kind][-1] - 1
    grid = None
    if len(commas) == per_line * n:
        # Common case: every line has the full column count. The commas then form an
        # (n, per_line) grid; it is right iff each line's commas lie inside it.
        grid = commas.reshape(n, per_line)
        if not ((grid[:, 0] > line_start).all() and (grid[:, -1] < line_end).all()):
            grid = None
    if grid is not None:
        first_comma = np.arange(0, len(commas), per_line)
        ncols = np.full(n, per_line + 1)
    else:
        first_comma = np.searchsorted(commas, line_start)
        ncols = np.searchsorted(commas, line_end) - first_comma + 1
    bad = ~np.isin(ncols, _COLUMNS[kind])
    if bad.any():
        raise fail(int(np.argmax(bad)))
    last = len(commas) - 1

    # Keyframe keys: the bytes up to the end of the timestamp. Consecutive rows mostly
    # repeat the key, so only the heads of runs are decoded in Python.
    ts_end = np.where(ncols == 2, line_end, commas[np.minimum(first_comma + 1, last)])
    key_len = ts_end - line_start
    head = np.ones(n, bool)
    head[1:] = key_len[1:] != key_len[:-1]
    for w in range(0, int(key_len.max()), 8):
        word = windows[np.minimum(line_start + w, len(buf)) + 8]
        # Keep the key's bytes only: the low ``rem`` bytes of the word.
        word &= ~_KEEP[8 - np.clip(key_len - w, 0, 8)]
        head[1:] |= word[1:] != word[:-1]
    head_rows = np.flatnonzero(head)
    width = int(key_len.max())
    key_mat = np.lib.stride_tricks.sliding_window_view(padded, width)[line_start[head_rows] + 8]
    key_mat = np.where(np.arange(width) < key_len[head_rows, None], key_mat, 0).astype(np.uint8)
    head_keys = np.ascontiguousarray(key_mat).view(f'S{width}').ravel()
    uniq, first, inverse = np.unique(head_keys, return_index=True, return_inverse=True)
    uniq_key = np.empty(len(uniq), np.int64)
    for u in np.argsort(first, kind='stable'):  # first-appearance order
        video_id, _, ts = uniq[u].decode('utf-8', 'replace').partition(',')
        try:
            uniq_key[u] = keys.add(canonical_key(video_id, ts))
        except ValueError:
            raise fail(int(head_rows[first[u]])) from None
    row_key = uniq_key[inverse.ravel()][np.cumsum(head) - 1]

    box_rows = np.flatnonzero(ncols > 2)
    if len(box_rows) == 0:
        return empty
    fc = first_comma[box_rows]
    is8 = ncols[box_rows] == 8
    last_end = line_end[box_rows]
    # Field j (0-based) of a row starts after comma fc + j - 1 and ends at comma fc + j
    # (or at the end of the line for the last field).
    if grid is not None and kind == 'boxes':
        starts = [grid[:, j - 1] + 1 for j in range(2, 8)]
        ends = [grid[:, j] for j in range(2, 7)] + [last_end]
    else:
        starts = [commas[np.minimum(fc + j - 1, last)] + 1 for j in range(2, 8)]
        ends = [commas[np.minimum(fc + j, last)] for j in range(2, 7)] + [last_end]
    ends[4] = np.where(is8, ends[4], last_end)  # the action id ends a 7-column row
    # Each box has one row per action: parse each distinct box text once. Rows are
    # grouped by a hash of the box's bytes, then every row is checked byte for byte
    # against its group's first row (a row that differs is simply parsed on its own).
    box_start, box_end = starts[0], ends[3]
    box_len = box_end - box_start
    words = [windows[np.minimum(box_start + w, len(buf)) + 8]
             & ~_KEEP[8 - np.clip(box_len - w, 0, 8)]
             for w in range(0, int(box_len.max()), 8)]
    digest = box_len.astype(np.uint64)
    for word in words:
        digest = digest * _u64(0x9E3779B97F4A7C15) ^ word
    _, first, inverse = np.unique(digest, return_index=True, return_inverse=True)
    rep = first[inverse.ravel()]
    same = box_len == box_len[rep]
    for word in words:
        same &= word == word[rep]
    own = (rep == np.arange(len(rep))) | ~same
    distinct = np.flatnonzero(own)
    position = (np.cumsum(own) - 1).astype(np.int32)
    box_index = np.where(same, position[rep], position)
    boxes = np.stack(_parse_numbers(
        windows, buf, [(starts[j][distinct], ends[j][distinct]) for j in range(4)], False),
        axis=1)
    labels, = _parse_numbers(windows, buf, [(starts[4], ends[4])], True)
    scores = np.ones(len(box_rows))  # a 7-column row has no score: 1.0, as the reference
    with_score = slice(None) if is8.all() else np.flatnonzero(is8)
    scores[with_score], = _parse_numbers(windows, buf,
                                         [(starts[5][with_score], ends[5][with_score])], False)

    with np.errstate(invalid='ignore'):
        bad_box = ~((boxes >= 0.0) & (boxes <= 1.0)).all(axis=1)
        bad_box |= (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        bad = labels < 1  # _NO_INT (not an integer) included
        bad |= ~np.isfinite(scores)
    bad |= bad_box[box_index]
    if bad.any():
        raise fail(int(box_rows[np.argmax(bad)]))
    return _Chunk(row_key[box_rows].astype(np.int32), boxes, labels, scores, box_index)


def _iter_chunks(path: Path, chunk_bytes: int):
    """Yield (uint8 array of whole lines ending with a newline, first line number)."""
    line = 1
    carry = b''
    first = True
    with open(path, 'rb') as f:
        while True:
            data = f.read(chunk_bytes)
            if not data:
                break
            if first and data.startswith(_BOM):  # written by Excel/Notepad: skip it
                data = data[len(_BOM):]
            first = False
            data = carry + data
            cut = data.rfind(b'\n') + 1
            if cut == 0:
                carry = data
                if len(carry) > MAX_LINE_BYTES:
                    raise AVAFormatError(path, line, f'line longer than '
                                         f'{MAX_LINE_BYTES // 1024} KB (not an AVA row)',
                                         carry[:QUOTE_CHARS].decode('utf-8', 'replace'))
                continue
            carry = data[cut:]
            arr = np.frombuffer(data, np.uint8, count=cut)
            yield arr, line
            line += data.count(b'\n', 0, cut)
    if carry:
        yield np.frombuffer(carry + b'\n', np.uint8), line


def _read_rows(path: PathLike, kind: str, what: str, chunk_bytes: int,
               allow_empty: bool = False) -> AVARows:
    path = Path(path)
    if not path.is_file():
        raise AVAFormatError(path, None, f'{what} file not found')
    keys = _KeyTable()
    chunks = [_parse_chunk(buf, line, kind, keys, path)
              for buf, line in _iter_chunks(path, chunk_bytes)]
    if not keys.keys and not allow_empty:
        raise AVAFormatError(path, None, f'{what} file has no rows')
    if not chunks:
        chunks = [_Chunk.empty()]
    return _join(chunks, keys, str(path))


def _join(chunks: List[_Chunk], keys: _KeyTable, path: Optional[str]) -> AVARows:
    offsets = np.cumsum([0] + [len(c.boxes) for c in chunks[:-1]])
    return AVARows(
        keys=keys.keys,
        key_index=np.concatenate([c.key_index for c in chunks]),
        boxes=np.concatenate([c.boxes for c in chunks]),
        labels=np.concatenate([c.labels for c in chunks]),
        scores=np.concatenate([c.scores for c in chunks]),
        path=path,
        box_index=np.concatenate([c.box_index + np.int32(o)
                                  for c, o in zip(chunks, offsets)]).astype(np.int32))


def read_box_csv(path: PathLike, what: str = 'box CSV',
                 chunk_bytes: int = _CHUNK_BYTES) -> AVARows:
    """Read a ground-truth or detection CSV (2-, 7- or 8-column rows) into :class:`AVARows`.

    Args:
        path: the CSV file.
        what: how messages name the file ('ground-truth', 'detections', ...).
        chunk_bytes: bytes parsed at a time (bounds memory on 14M-row files).

    Raises:
        AVAFormatError: missing or empty file; a row with the wrong number of columns, a
            field that is not a number, a coordinate outside [0, 1], x2 < x1 or y2 < y1, a
            non-finite score. The first bad line is named.
    """
    return _read_rows(path, 'boxes', what, chunk_bytes)


def read_groundtruth(path: PathLike) -> AVARows:
    """Ground-truth CSV (``scores`` holds the person ids). See :func:`read_box_csv`."""
    return read_box_csv(path, 'ground-truth')


def read_detections(path: PathLike) -> AVARows:
    """Detection/result CSV; an empty file is an error. See :func:`read_box_csv`."""
    rows = read_box_csv(path, 'detections')
    if len(rows) == 0:
        raise AVAFormatError(path, None, 'detections file has no detection rows')
    return rows


def read_exclusions(path: PathLike) -> List[Key]:
    """Excluded-timestamps CSV (``video_id,timestamp`` rows) -> keys. An empty file is valid
    (nothing excluded)."""
    return _read_rows(path, 'keys', 'excluded-timestamps', _CHUNK_BYTES, allow_empty=True).keys


# ---------------------------------------------------------------------------------------
# Writing.
# ---------------------------------------------------------------------------------------

def _fixed_point(values: np.ndarray, decimals: int) -> np.ndarray:
    """(n, decimals + 2) uint8 text of values in [0, 1] as ``d.ddd`` (rounded)."""
    scaled = np.rint(np.asarray(values, np.float64) * 10**decimals).astype(np.int64)
    out = np.empty((len(scaled), decimals + 2), np.uint8)
    out[:, 0] = _ZERO + scaled // 10**decimals
    out[:, 1] = _DOT
    rest = scaled % 10**decimals
    for j in range(decimals - 1, -1, -1):
        out[:, 2 + j] = _ZERO + rest % 10
        rest //= 10
    return out


def quantize(values: np.ndarray, decimals: int) -> np.ndarray:
    """The float64 that :func:`write_box_csv` writes and any reader reads back."""
    return np.rint(np.asarray(values, np.float64) * 10**decimals) / 10**decimals


def format_box_csv(keys: Sequence[Key], key_index: np.ndarray, boxes: np.ndarray,
                   labels: np.ndarray, scores: np.ndarray, box_decimals: int = 4,
                   score_decimals: int = 6) -> bytes:
    """Rows -> CSV bytes ``video_id,timestamp,x1,y1,x2,y2,action_id,score`` (vectorised).

    ``boxes`` (N, 4) xyxy and ``scores`` (N,) must lie in [0, 1]; they are written with
    fixed decimals (what :func:`quantize` gives). Integer timestamps are written with 4
    digits (``0902``) as AVA does.
    """
    n = len(labels)
    if n == 0:
        return b''
    boxes = np.asarray(boxes, np.float64)
    scores = np.asarray(scores, np.float64)
    if not (np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()):
        raise ValueError('scores to write must be finite and in [0, 1]')
    if not ((boxes >= 0) & (boxes <= 1)).all():
        raise ValueError('boxes to write must be normalised to [0, 1]')
    labels = np.asarray(labels, np.int64)
    if labels.min() < 0 or labels.max() > 99:
        raise ValueError('action ids to write must be in 0..99')
    prefixes = [f'{v},{t:04d},' if isinstance(t, int) else f'{v},{t},' for v, t in keys]
    prefix_bytes = [p.encode('utf-8') for p in prefixes]
    pw = max(len(p) for p in prefix_bytes)
    prefix_mat = np.zeros((len(keys), pw), np.uint8)
    for i, p in enumerate(prefix_bytes):
        prefix_mat[i, :len(p)] = np.frombuffer(p, np.uint8)
    parts = [prefix_mat[np.asarray(key_index)]]
    comma = np.full((n, 1), _COMMA, np.uint8)
    for j in range(4):
        parts += [_fixed_point(boxes[:, j], box_decimals), comma]
    lab = np.zeros((n, 2), np.uint8)
    lab[:, 0] = np.where(labels >= 10, _ZERO + labels // 10, 0)
    lab[:, 1] = _ZERO + labels % 10
    parts += [lab, comma, _fixed_point(scores, score_decimals), np.full((n, 1), _NL, np.uint8)]
    mat = np.concatenate(parts, axis=1)
    flat = mat.ravel()
    return flat[flat != 0].tobytes()  # zero bytes pad the variable-width fields


def write_box_csv(path: PathLike, rows: AVARows, box_decimals: int = 4,
                  score_decimals: int = 6, chunk_rows: int = 2_000_000) -> None:
    """Write detection rows to ``path`` atomically (see :func:`format_box_csv`)."""
    from videomae_det.utils.atomic import atomic_open
    with atomic_open(path, 'wb') as f:
        for s in range(0, max(len(rows), 1), chunk_rows):
            sl = slice(s, s + chunk_rows)
            f.write(format_box_csv(rows.keys, rows.key_index[sl], rows.row_boxes(sl),
                                   rows.labels[sl], rows.scores[sl], box_decimals,
                                   score_decimals))


def rows_from_text(text: str, path: Optional[str] = None) -> AVARows:
    """Parse CSV text (tests and small in-memory uses) with the same rules as files."""
    keys = _KeyTable()
    data = text.encode('utf-8').removeprefix(_BOM)
    if data and not data.endswith(b'\n'):
        data += b'\n'
    chunk = (_parse_chunk(np.frombuffer(data, np.uint8), 1, 'boxes', keys, path) if data else
             _Chunk.empty())
    return _join([chunk], keys, path)


def format_result_csv(keyframes: Sequence[Tuple[str, float, np.ndarray, np.ndarray]],
                      action_ids, box_decimals: int = 4, score_decimals: int = 6) -> str:
    """Inference results -> result CSV text ``video_id,timestamp,x1,y1,x2,y2,action_id,score``.

    ``keyframes``: ``(video_id, timestamp in seconds, boxes (M, 4) xyxy normalised, scores
    (M, C))`` with score column ``a - 1`` holding action id ``a``; one row per (box, action
    id of ``action_ids``), whatever the score (evaluation needs the low ones too).
    Timestamps are written as integers when every keyframe falls on a whole second (AVA
    style), otherwise with 3 decimals (other videos, other keyframe rates).
    """
    ids = sorted(set(int(a) for a in action_ids))
    whole = all(abs(float(t) - round(float(t))) < 1e-6 for _, t, _, _ in keyframes)
    lines: List[str] = []
    for video_id, t, boxes, scores in keyframes:
        ts = str(int(round(float(t)))) if whole else f'{float(t):.3f}'
        for box, row in zip(boxes, scores):
            coords = ','.join(f'{float(v):.{box_decimals}f}' for v in box)
            for a in ids:
                lines.append(f'{video_id},{ts},{coords},{a},{float(row[a - 1]):.{score_decimals}f}')
    return ''.join(line + '\n' for line in lines)


# ---------------------------------------------------------------------------------------
# Ground truth as records (the tools that build ``*_min.json`` and the mini-AVA generator).
# ---------------------------------------------------------------------------------------

class AVAGroundTruth(NamedTuple):
    """A ground-truth CSV as records.

    ``keyframes``: every annotated (movie, timestamp), in first-appearance order (2-column
    rows included). ``persons``: (movie, timestamp) -> list of (box xyxy normalised,
    person_id, sorted action ids), one entry per distinct (person_id, box) at that keyframe.
    """
    keyframes: List[Tuple[str, int]]
    persons: Dict[Tuple[str, int], List[Tuple[Tuple[float, float, float, float], int, List[int]]]]


def format_timestamp(t: int) -> str:
    """Keyframe second as the 4-digit string of the official files (902 -> '0902')."""
    return f'{int(t):04d}'


def read_ground_truth_csv(path: PathLike) -> AVAGroundTruth:
    """Official ground-truth CSV -> :class:`AVAGroundTruth` (rows of 8 columns, or 2).

    Timestamps must be whole seconds (they become image ids); every box row needs its
    action id and person id.
    """
    keyframes: Dict[Tuple[str, int], None] = {}
    persons: Dict[Tuple[str, int], Dict] = {}
    for line, row in iter_csv_rows(path, 'annotations', 'ground-truth CSV'):
        key = (row.movie, row.timestamp) if isinstance(row, CSVBox) else row
        if not isinstance(key[1], int):
            raise AVAFormatError(path, line, f'timestamp {key[1]} is not a whole second')
        keyframes.setdefault(key, None)
        entries = persons.setdefault(key, {})
        if not isinstance(row, CSVBox):
            continue
        if row.action_id is None or row.extra is None:
            raise AVAFormatError(path, line, 'a ground-truth box row has 8 columns '
                                 '(video_id,timestamp,x1,y1,x2,y2,action_id,person_id)')
        if row.extra != int(row.extra):
            raise AVAFormatError(path, line, f'person id {row.extra} is not an integer')
        entries.setdefault((int(row.extra), row.box), set()).add(row.action_id)
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

