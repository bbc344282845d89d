"""AVA label maps: ``{action id: name}`` from the files users have.

Formats read (told apart by content, not by extension):

* protobuf text (``.pbtxt``), the ActivityNet list ``item { name: "..." id: N }`` and the
  full AVA list ``label { name: "..." label_id: N label_type: ... }``; the fields of an
  entry may come in any order;
* mmaction2's ``label_map.txt``: one ``N: name`` per line (``1: bend/bow (at the waist)``).

Ids are positive integers; which ones a model uses is the label map's business (class sets
beyond 1..80 are allowed). Anything else is an :class:`AVAFormatError` naming the file and
line.
"""
import os
import re
from pathlib import Path
from typing import Dict, List, Tuple, Union

from .errors import AVAFormatError

PathLike = Union[str, os.PathLike]

_ENTRY_START = re.compile(r'^\s*(item|label)\s*\{', re.M)
_FIELD = re.compile(r'(\w+)\s*:\s*("(?:[^"\\\n]|\\.)*"|[^\s{}]+)')
_TXT_LINE = re.compile(r'^\s*(-?\d+)\s*:\s*(\S.*?)\s*$')


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise AVAFormatError(path, None, 'label map file not found')
    data = path.read_bytes()
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        line = data.count(b'\n', 0, e.start) + 1
        raise AVAFormatError(path, line, f'not a text file (byte {data[e.start:e.start + 1]!r} '
                             f'at offset {e.start} is not UTF-8); a label map is a .pbtxt or '
                             f'a label_map.txt') from None
    if '\x00' in text:
        line = text.count('\n', 0, text.index('\x00')) + 1
        raise AVAFormatError(path, line, 'not a text file (NUL byte); a label map is a .pbtxt '
                             'or a label_map.txt')
    return text


def _entry_id(path, line: int, value: str) -> int:
    try:
        class_id = int(value)
    except ValueError:
        raise AVAFormatError(path, line, f'id {value!r} is not an integer') from None
    if class_id < 1:
        raise AVAFormatError(path, line, f'id {class_id} is not a positive integer')
    return class_id


def _parse_pbtxt(path: Path, text: str) -> List[Tuple[int, int, str]]:
    """[(line, id, name)] of the entries, in file order."""
    entries = []
    pos = 0
    while True:
        match = _ENTRY_START.search(text, pos)
        if match is None:
            break
        start_line = text.count('\n', 0, match.start()) + 1
        close = text.find('}', match.end())
        if close < 0:
            raise AVAFormatError(path, start_line, f'"{match.group(1)} {{" is never closed')
        body_start = match.end()
        fields = {}
        for f in _FIELD.finditer(text, body_start, close):
            line = text.count('\n', 0, f.start()) + 1
            key, value = f.group(1), f.group(2)
            if value.startswith('"'):
                value = value[1:-1].replace('\\"', '"').replace('\\\\', '\\')
            fields.setdefault(key, (line, value))
        ident = fields.get('id') or fields.get('label_id')
        if ident is None:
            raise AVAFormatError(path, start_line, 'entry has no id (item { name: "..." id: N })')
        name = fields.get('name') or fields.get('display_name')
        if name is None:
            raise AVAFormatError(path, start_line, 'entry has no name (item { name: "..." id: N })')
        entries.append((ident[0], _entry_id(path, *ident), name[1]))
        pos = close + 1
    return entries


def _parse_txt(path: Path, text: str) -> List[Tuple[int, int, str]]:
    entries = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        match = _TXT_LINE.match(line)
        if match is None:
            raise AVAFormatError(path, line_no, 'expected "N: name" (mmaction2 label_map.txt) '
                                 'or a pbtxt label map (item { name: "..." id: N })', line)
        entries.append((line_no, _entry_id(path, line_no, match.group(1)), match.group(2)))
    return entries


def read_label_map(path: PathLike) -> Dict[int, str]:
    """Read a label map (module docstring) -> ``{action id: name}`` in file order.

    Raises:
        AVAFormatError: missing file, binary content, no entry, an entry without id or
            name, an id that is not a positive integer or appears twice.
    """
    path = Path(path)
    text = _read_text(path)
    entries = _parse_pbtxt(path, text) if _ENTRY_START.search(text) else _parse_txt(path, text)
    labels: Dict[int, str] = {}
    for line, class_id, name in entries:
        if class_id in labels:
            raise AVAFormatError(path, line, f'id {class_id} appears twice')
        labels[class_id] = name
    if not labels:
        raise AVAFormatError(path, None, 'label map has no entry (expected "item { name: ... '
                             'id: ... }" blocks or "N: name" lines)')
    return labels


def write_label_map(path: PathLike, labels: Dict[int, str]) -> None:
    """Write ``{action id: name}`` atomically in the ActivityNet pbtxt format."""
    from videomae_det.utils.atomic import atomic_write_text
    text = ''.join(f'item {{\n  name: "{name}"\n  id: {i}\n}}\n'
                   for i, name in sorted(labels.items()))
    atomic_write_text(path, text)
