"""utils/progress.py: one bar style on stderr, shown on a terminal only unless forced."""
import io
import sys

import pytest

from videomae_det.utils import progress
from videomae_det.utils.progress import BAR_FORMAT, progress_bar, progress_disabled


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def stderr(monkeypatch):
    """Replace sys.stderr with a buffer; ``stderr(tty=True)`` makes it claim to be a terminal."""
    monkeypatch.delenv(progress.ENV, raising=False)

    def make(tty: bool):
        stream = Terminal() if tty else io.StringIO()
        monkeypatch.setattr(sys, 'stderr', stream)
        return stream
    return make


def test_bar_on_a_terminal_has_the_shared_format(stderr):
    err = stderr(tty=True)
    items = list(progress_bar(range(4), desc='cutting', unit='movie'))
    assert items == [0, 1, 2, 3]
    last = err.getvalue().split('\r')[-1]
    assert last.startswith('cutting: 100%|')
    assert '| 4/4 [' in last and 'movie/s]' in last
    assert BAR_FORMAT.startswith('{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [')


def test_no_bar_when_stderr_is_not_a_terminal(stderr):
    err = stderr(tty=False)
    assert list(progress_bar([1, 2, 3], desc='decoding', unit='file')) == [1, 2, 3]
    assert err.getvalue() == ''


@pytest.mark.parametrize('tty, disable, env, shown', [
    (True, None, None, True), (False, None, None, False),    # the terminal rule
    (False, False, None, True), (True, True, None, False),   # an explicit choice wins
    (False, None, '1', True), (True, None, '0', False),      # then the environment
    (True, False, '0', True),
])
def test_disable_rule(stderr, monkeypatch, tty, disable, env, shown):
    stderr(tty=tty)
    if env is not None:
        monkeypatch.setenv(progress.ENV, env)
    assert progress_disabled(disable) is (not shown)


def test_manual_bar_with_resume_and_unknown_total(stderr):
    err = stderr(tty=True)
    bar = progress_bar(total=10, initial=4, desc='keyframes', unit='kf')
    bar.update(2)
    bar.close()
    assert err.getvalue().split('\r')[-1].startswith('keyframes:  60%|')
    err = stderr(tty=True)
    bar = progress_bar(desc='live.mp4', unit='keyframe')  # a stream: no total
    bar.update(3)
    bar.close()
    assert err.getvalue().split('\r')[-1].startswith('live.mp4: 3 [')


def test_disabled_bar_draws_nothing(stderr):
    err = stderr(tty=True)
    bar = progress_bar(total=3, desc='x', disable=True)
    bar.update(3)
    bar.close()
    assert err.getvalue() == ''
