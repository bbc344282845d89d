"""What every command-line tool does with errors: one message, one exit code.

Every tool in ``tools/`` runs its ``main`` through :func:`run`, which turns any exception
into one message on stderr whose first line starts ``error:``, and an exit code:

====  ========================================================================
0     done
1     failed while running (a video that stops decoding half-way, ffmpeg failing,
      a bug: anything that is not the input's fault)
2     bad input or usage: a wrong argument, a missing or malformed file, a config
      typo, a checkpoint that is not what the tool needs, an output that cannot be
      written or would overwrite an input
130   interrupted (Ctrl-C); 143 terminated (SIGTERM)
====  ========================================================================

``--debug`` (every tool takes it, through :class:`ArgumentParser`) or the environment
variable ``VIDEOMAE_DET_DEBUG=1`` adds the traceback after the message. A line of a
message longer than :data:`MAX_LINE` characters is shortened, so a 50 kB malformed row
never floods the terminal; file readers quote rows with :func:`quote` for the same reason.

The helpers below check arguments before any work starts: numbers in a range
(:func:`unit_interval`, :func:`positive`), outputs that may be written
(:func:`check_outputs`: not one of the inputs, writable, not a folder).
"""
import argparse
import json
import math
import os
import pickle
import signal
import sys
import traceback
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
DEBUG_ENV = 'VIDEOMAE_DET_DEBUG'
MAX_LINE = 300  # characters of one message line; a quoted row gets at most ~200 of them
QUOTE_CHARS = 200

PathLike = Union[str, os.PathLike]


class ToolError(Exception):
    """Failed while running (exit 1); the message says what happened."""
    exit_code = EXIT_FAILED


class UsageError(ToolError):
    """Bad input or usage (exit 2): the message names the argument, file, row or key."""
    exit_code = EXIT_USAGE


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that ``finally`` blocks and context managers
    remove their temporary files as they do for Ctrl-C."""


# exceptions that mean "the input is wrong" wherever they are raised: our readers and
# checks raise ValueError subclasses naming the file/row/key (AVAFormatError, ConfigError,
# ...); the OS errors are about paths the user gave
_INPUT_ERRORS = (UsageError, ValueError, FileNotFoundError, IsADirectoryError,
                 NotADirectoryError, PermissionError, FileExistsError, pickle.UnpicklingError,
                 json.JSONDecodeError, UnicodeDecodeError)


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``repr`` of ``text`` for a message, cut to about ``limit`` characters."""
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return f'{text[:limit]!r}... ({len(text) - limit} more characters)'


def _shorten_line(line: str, limit: int = MAX_LINE) -> str:
    if len(line) <= limit:
        return line
    return f'{line[:limit]}... ({len(line) - limit} more characters)'


def _worker_message(message: str) -> str:
    """The original message of an error re-raised from a DataLoader worker: torch puts the
    worker's whole traceback in the message ("Caught X in DataLoader worker process 0.
    Original Traceback ..."); keep the lines after it that are the exception itself."""
    marker = 'Original Traceback (most recent call last):'
    if marker not in message:
        return message
    lines = message.split(marker, 1)[1].strip('\n').split('\n')
    last_frame = max((i for i, line in enumerate(lines) if line.startswith(' ')), default=-1)
    tail = '\n'.join(lines[last_frame + 1:]).strip()
    if ': ' in tail.split('\n', 1)[0]:
        tail = tail.split(': ', 1)[1]  # "AVAFormatError: file, line 3: ..." -> the message
    return tail or message


def describe(error: BaseException) -> str:
    """The user-facing text of ``error``: its message, or for an error we did not foresee,
    its type and message; lines shortened to :data:`MAX_LINE`."""
    if isinstance(error, UnicodeDecodeError):
        # the codec's message names no file; the readers that know it raise their own
        text = (f'a file is not UTF-8 text (byte {error.object[error.start:error.start + 1]!r}'
                f' at offset {error.start}); is it a binary file?')
    elif isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f'{error.filename}: {error.strerror}'
    elif isinstance(error, KeyError) and len(error.args) == 1 and isinstance(error.args[0], str):
        text = error.args[0]  # KeyError's str() would quote the message
    else:
        text = str(error) or type(error).__name__
    if isinstance(error, pickle.UnpicklingError) and text.startswith('Weights only load failed'):
        # torch's advice is to turn the safety off; say what the file wants instead
        wants = [line.strip() for line in text.split('\n')
                 if 'GLOBAL' in line or 'Unsupported' in line]
        text = ('refused to load: the checkpoint holds objects other than tensors and plain '
                'values, which could run code while unpickling'
                + (f' ({wants[0]})' if wants else ''))
    text = _worker_message(text)
    if not isinstance(error, (ToolError, OSError, ValueError, pickle.UnpicklingError)):
        text = f'{type(error).__name__}: {text}'
    return '\n'.join(_shorten_line(line) for line in text.split('\n'))


def exit_code_of(error: BaseException) -> int:
    if isinstance(error, ToolError):
        return error.exit_code
    if isinstance(error, Terminated):
        return EXIT_TERMINATED
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_USAGE if isinstance(error, _INPUT_ERRORS) else EXIT_FAILED


def debug_enabled(argv: Optional[Sequence[str]] = None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ.get(DEBUG_ENV, '').strip().lower()
    return '--debug' in argv or env not in ('', '0', 'false', 'no')


def report(error: BaseException, debug: bool = False, file=None) -> int:
    """Print ``error`` as the tools do; returns its exit code."""
    file = sys.stderr if file is None else file
    code = exit_code_of(error)
    if isinstance(error, (KeyboardInterrupt, Terminated)):
        print('error: interrupted' if code == EXIT_INTERRUPTED else 'error: terminated',
              file=file)
    else:
        print(f'error: {describe(error)}', file=file)
    if debug:
        traceback.print_exception(error, file=file)
    elif code == EXIT_FAILED and not isinstance(error, (ToolError, KeyboardInterrupt,
                                                        Terminated)):
        print(f'(run with --debug or {DEBUG_ENV}=1 for the traceback)', file=file)
    file.flush()
    return code


def _raise_terminated(signum, frame):
    raise Terminated()


def run(main: Callable[[Optional[List[str]]], Optional[int]],
        argv: Optional[List[str]] = None) -> int:
    """Run a tool's ``main(argv)``; its return value (None = 0) or the exit code of the
    exception it raised, reported as :func:`report` does. ``SystemExit`` passes through
    (argparse's ``--help``)."""
    debug = debug_enabled(argv)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        code = main(argv)
        return EXIT_OK if code is None else int(code)
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - this is the one place that reports
        return report(error, debug)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the tools' ``--debug`` flag, whose usage errors are
    reported like every other error (``error: ...``, exit 2) with the usage line after."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument('--debug', action='store_true',
                          help=f'show the traceback of an error (or set {DEBUG_ENV}=1)')

    def error(self, message: str):
        print(f'error: {_shorten_line(message)}', file=sys.stderr)
        print(self.format_usage().rstrip(), file=sys.stderr)
        sys.exit(EXIT_USAGE)


# ---- argument types -------------------------------------------------------------------

def finite_float(text: str) -> float:
    """argparse type: a finite number (no nan, no inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f'{text!r} is not a finite number')
    return value


def unit_interval(text: str) -> float:
    """argparse type: a number in [0, 1] (a score threshold)."""
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'{text} is outside [0, 1]')
    return value


def positive(text: str) -> float:
    """argparse type: a finite number > 0 (an interval in seconds)."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f'{text} is not positive')
    return value


def non_negative(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'{text} is negative')
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text} is not at least 1')
    return value


# ---- outputs --------------------------------------------------------------------------

def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_outputs(outputs: Dict[str, Optional[PathLike]],
                  inputs: Dict[str, Optional[PathLike]]) -> None:
    """Refuse outputs that would destroy an input or cannot be written, before any work.

    ``outputs``/``inputs`` map an argument name (``'--out'``, ``'video'``) to its path
    (None = not given). Raises :class:`UsageError` when an output is one of the inputs
    (also through a link), two outputs are the same file, an output is a folder, or its
    folder cannot be created or written.
    """
    given_out = {k: Path(v) for k, v in outputs.items() if v is not None}
    given_in = {k: Path(v) for k, v in inputs.items() if v is not None}
    names = list(given_out)
    for n, name in enumerate(names):
        path = given_out[name]
        for in_name, in_path in given_in.items():
            if _same_file(path, in_path):
                raise UsageError(f'{name} {path} is the input {in_name}; writing it would '
                                 f'destroy the input: choose another output path')
        for other in names[n + 1:]:
            if _same_file(path, given_out[other]):
                raise UsageError(f'{name} and {other} are the same file ({path})')
        check_writable(path, name)


def check_writable(path: PathLike, what: str = 'output') -> None:
    """Raise :class:`UsageError` unless ``path`` could be created or replaced as a file."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f'{what} {path} is a folder; give a file name')
    folder = path.parent
    while not folder.exists():  # the closest existing folder is the one that must be writable
        if folder.parent == folder:
            break
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f'{what} {path}: {folder} is not a folder')
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f'{what} {path}: cannot write into {folder} (permission denied)')


def check_writable_dir(path: PathLike, what: str = 'work dir') -> Path:
    """Create the folder ``path`` if needed; raise :class:`UsageError` unless it is a
    writable folder. Returns it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f'{what} {path} exists and is not a folder') from None
    except OSError as e:
        raise UsageError(f'{what} {path} cannot be created: {e.strerror}') from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f'{what} {path} is not writable (permission denied)')
    return path

