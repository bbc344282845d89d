"""One progress-bar style for every tool (data generation, checks, cutting, detection,
inference): the same tqdm bar, on stderr, shown by the same rule.

When a bar shows: ``disable=True`` never, ``disable=False`` always; with ``disable=None``
(the default) the environment variable ``VIDEOMAE_DET_PROGRESS`` decides when it is set
(``1`` always, ``0`` never), otherwise the bar shows only when stderr is a terminal. A log
file, a pipe or CI gets no bar: carriage-return redraws would fill it with hundreds of
half-lines, and stdout stays clean for results either way.
"""
import os
import sys
from typing import Iterable, Optional

from tqdm import tqdm

#: ``desc: 42%|████      | 21/50 [00:03<00:04, 6.1movie/s]``: tqdm's usual fields, fixed here
#: so that every tool prints the same ones in the same order
BAR_FORMAT = ('{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} '
              '[{elapsed}<{remaining}, {rate_fmt}]')
#: the same without a total (a live stream): ``desc: 21 [00:03, 6.1keyframe/s]``
COUNT_FORMAT = '{desc}: {n_fmt} [{elapsed}, {rate_fmt}]'
ENV = 'VIDEOMAE_DET_PROGRESS'


def progress_disabled(disable: Optional[bool] = None, stream=None) -> bool:
    """The rule of the module docstring: True when no bar should be drawn on ``stream``
    (default ``sys.stderr``)."""
    if disable is not None:
        return bool(disable)
    forced = os.environ.get(ENV, '').strip()
    if forced in ('0', '1'):
        return forced == '0'
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, 'isatty', None)
    return not (isatty is not None and isatty())


def progress_bar(iterable: Optional[Iterable] = None, *, total: Optional[int] = None,
                 desc: str = '', unit: str = 'it', initial: int = 0,
                 disable: Optional[bool] = None) -> tqdm:
    """A tqdm bar in the project's style over ``iterable`` (or a manual one, advanced with
    ``.update(n)``, when ``iterable`` is None). ``total`` counts items (None: unknown, the
    bar shows a count and rate only); ``initial`` items are already done (a resumed run).
    A disabled bar still iterates and accepts ``update``/``close``, drawing nothing."""
    if total is None and hasattr(iterable, '__len__'):
        total = len(iterable)
    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial,
                file=sys.stderr, bar_format=COUNT_FORMAT if total is None else BAR_FORMAT,
                dynamic_ncols=True, disable=progress_disabled(disable))
