"""The one error of every AVA file reader: :class:`AVAFormatError`."""
import os
from typing import Optional, Union

PathLike = Union[str, os.PathLike]

#: how much of an offending row a message quotes (a 1 MB "row" must not flood a terminal)
QUOTE_CHARS = 200


class AVAFormatError(ValueError):
    """A malformed AVA file: names the file, the line (1-based, when known) and the fault.

    Args:
        path: the file (None for in-memory data).
        line: 1-based line number, or None when the fault is not on one line (a JSON
            entry, a missing file, a whole-file property).
        reason: what is wrong, in words a user can act on.
        text: the offending row, quoted (at most ``QUOTE_CHARS`` characters of it).
    """

    def __init__(self, path: Optional[PathLike], line: Optional[int], reason: str,
                 text: Optional[str] = None):
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.reason = reason
        where = self.path or '<in-memory data>'
        if line is not None:
            where = f'{where}, line {line}'
        msg = f'{where}: {reason}'
        if text is not None:
            if len(text) > QUOTE_CHARS:
                text = text[:QUOTE_CHARS] + f'... ({len(text)} characters)'
            msg += f' (row: {text!r})'
        super().__init__(msg)

    def __reduce__(self):  # picklable across DataLoader workers, message kept as is
        return _rebuild, (type(self), self.args, self.path, self.line, self.reason)


def _rebuild(cls, args, path, line, reason):
    err = cls.__new__(cls)
    ValueError.__init__(err, *args)
    err.path, err.line, err.reason = path, line, reason
    return err
