"""Readers and writers for the official AVA files.

* Box CSV (ground truth and detections), one row per (keyframe, box, action)::

      video_id,timestamp,x1,y1,x2,y2,action_id[,person_id | score]

  Boxes are xyxy normalised to [0, 1]. A ground-truth row ends with the person id, a
  detection row with its score; a 7-column row has neither (score 1.0, as the reference
  reads it). A 2-column row ``video_id,timestamp`` marks an annotated keyframe without
  boxes.
* Excluded-timestamps CSV: ``video_id,timestamp`` rows.
* Label map (``.pbtxt``): ``item { name: "..." id: N }`` blocks (``label_id`` also accepted).

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
from typing import Dict, Hashable, List, Optional, Sequence, Tuple, Union

import numpy as np

PathLike = Union[str, os.PathLike]
# (video_id, timestamp): timestamp is an int or a Decimal; Decimal(902) == 902 and they hash
# alike, so keys from CSV files and from the training loop meet in one dict.
Key = Tuple[str, Hashable]

_CHUNK_BYTES = 4 << 20  # small enough for the per-chunk arrays to stay in cache
_NL, _CR, _COMMA, _DOT, _ZERO, _QUOTE = 10, 13, 44, 46, 48, 34
_POW10 = np.array([10.0**k for k in range(8)])


class AVAFormatError(ValueError):
    """A malformed AVA file: names the file, the line (1-based, when known) and the fault."""

    def __init__(self, path: Optional[PathLike], line: Optional[int], reason: str,
                 text: Optional[str] = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = reason
        where = self.path or '<in-memory rows>'
        if line is not None:
            where = f'{where}, line {line}'
        msg = f'{where}: {reason}'
        if text is not None:
            msg += f' (row: {text!r})'
        super().__init__(msg)


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

_COLUMNS = {'boxes': (2, 7, 8), 'keys': (2, )}


def _check_row(fields: Sequence[str], kind: str):
    """Parse one CSV row; returns (key, box or None, label, score) or raises ValueError."""
    allowed = _COLUMNS[kind]
    if len(fields) not in allowed:
        raise ValueError(f'expected {" or ".join(map(str, allowed))} columns, '
                         f'got {len(fields)}')
    key = canonical_key(fields[0], fields[1])
    if len(fields) == 2:
        return key, None, 0, 0.0
    box = []
    for name, text in zip(('x1', 'y1', 'x2', 'y2'), fields[2:6]):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f'{name} {text!r} is not a number') from None
        if not 0.0 <= value <= 1.0:
            raise ValueError(f'{name} = {text} is outside [0, 1] (boxes are normalised)')
        box.append(value)
    if box[2] < box[0]:
        raise ValueError(f'x2 = {fields[4]} < x1 = {fields[2]}')
    if box[3] < box[1]:
        raise ValueError(f'y2 = {fields[5]} < y1 = {fields[3]}')
    try:
        label = int(fields[6])
    except ValueError:
        raise ValueError(f'action id {fields[6]!r} is not an integer') from None
    score = 1.0
    if len(fields) == 8:
        try:
            score = float(fields[7])
        except ValueError:
            raise ValueError(f'last column {fields[7]!r} (score / person id) is not a number'
                             ) from None
        if not np.isfinite(score):
            raise ValueError(f'last column (score / person id) is {fields[7]}, not a finite number')
    return key, box, label, score


def _diagnose(path, line_no: int, text: str, kind: str) -> AVAFormatError:
    fields = next(csv.reader([text]), [])
    try:
        _check_row(fields, kind)
        reason = 'malformed row'
    except ValueError as e:
        reason = str(e)
    return AVAFormatError(path, line_no, reason, text)


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
    for i, fields in enumerate(csv.reader(lines)):
        if not fields:
            continue
        try:
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
        bad = labels == _NO_INT
        bad |= ~np.isfinite(scores)
    bad |= bad_box[box_index]
    if bad.any():
        raise fail(int(box_rows[np.argmax(bad)]))
    return _Chunk(row_key[box_rows].astype(np.int32), boxes, labels, scores, box_index)


def _iter_chunks(path: Path, chunk_bytes: int):
    """Yield (uint8 array of whole lines ending with a newline, first line number)."""
    line = 1
    carry = b''
    with open(path, 'rb') as f:
        while True:
            data = f.read(chunk_bytes)
            if not data:
                break
            data = carry + data
            cut = data.rfind(b'\n') + 1
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            arr = np.frombuffer(data, np.uint8, count=cut)
            yield arr, line
            line += data.count(b'\n', 0, cut)
    if carry:
        yield np.frombuffer(carry + b'\n', np.uint8), line


def _read_rows(path: PathLike, kind: str, what: str, chunk_bytes: int) -> AVARows:
    path = Path(path)
    if not path.is_file():
        raise AVAFormatError(path, None, f'{what} file not found')
    keys = _KeyTable()
    chunks = [_parse_chunk(buf, line, kind, keys, path)
              for buf, line in _iter_chunks(path, chunk_bytes)]
    if not keys.keys:
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
    """Excluded-timestamps CSV (``video_id,timestamp`` rows) -> keys."""
    return _read_rows(path, 'keys', 'excluded-timestamps', _CHUNK_BYTES).keys


def read_label_map(path: PathLike) -> Dict[int, str]:
    """Read a pbtxt label map -> ``{action id: name}`` in file order.

    Raises AVAFormatError when the file is missing, has no item, or an item has a bad or
    repeated id.
    """
    path = Path(path)
    if not path.is_file():
        raise AVAFormatError(path, None, 'label map file not found')
    labels: Dict[int, str] = {}
    name = None
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            text = line.strip()
            if text.startswith('name:'):
                parts = text.split('"')
                name = parts[1] if len(parts) >= 3 else text[5:].strip()
            elif text.startswith('id:') or text.startswith('label_id:'):
                value = text.split(':', 1)[1].strip()
                try:
                    class_id = int(value)
                except ValueError:
                    raise AVAFormatError(path, line_no, f'id {value!r} is not an integer',
                                         line.rstrip('\n')) from None
                if class_id in labels:
                    raise AVAFormatError(path, line_no, f'id {class_id} appears twice')
                labels[class_id] = name if name is not None else str(class_id)
                name = None
    if not labels:
        raise AVAFormatError(path, None, 'label map has no "item { name: ... id: ... }" entry')
    return labels


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
    if labels.min() < 0:
        raise ValueError('action ids to write must be >= 0')
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
    # any class set's ids: as many digit columns as the largest id needs, leading zeros
    # left as 0 bytes (dropped below)
    width = len(str(int(labels.max())))
    lab = np.zeros((n, width), np.uint8)
    for j in range(width):
        place = 10 ** (width - 1 - j)
        lab[:, j] = np.where((labels >= place) | (place == 1), _ZERO + (labels // place) % 10, 0)
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
    data = text.encode('utf-8')
    if data and not data.endswith(b'\n'):
        data += b'\n'
    chunk = (_parse_chunk(np.frombuffer(data, np.uint8), 1, 'boxes', keys, path) if data else
             _Chunk.empty())
    return _join([chunk], keys, path)


__all__ = [
    'AVAFormatError', 'AVARows', 'Key', 'canonical_key', 'format_box_csv', 'quantize',
    'read_box_csv', 'read_detections', 'read_exclusions', 'read_groundtruth',
    'read_label_map', 'rows_from_text', 'write_box_csv'
]
