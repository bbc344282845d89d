"""videomae_det.utils.cli: one error format and exit code for every tool."""
import argparse
import pickle

import pytest

from videomae_det.utils import cli


def _run(error, argv=()):
    def main(argv):
        raise error
    return cli.run(main, list(argv))


@pytest.mark.parametrize('error, code, first_line', [
    (cli.UsageError('--out x.mp4 is the input video'), 2, 'error: --out x.mp4 is the input video'),
    (ValueError('ann.csv, line 3: box has no area'), 2, 'error: ann.csv, line 3: box has no area'),
    (FileNotFoundError(2, 'No such file or directory', 'a.pth'), 2,
     'error: a.pth: No such file or directory'),
    (PermissionError(13, 'Permission denied', '/ro/out.json'), 2,
     'error: /ro/out.json: Permission denied'),
    (pickle.UnpicklingError('ckpt.pth: unsafe global os.system'), 2,
     'error: ckpt.pth: unsafe global os.system'),
    (cli.ToolError('ffmpeg failed'), 1, 'error: ffmpeg failed'),
    (RuntimeError('CUDA out of memory'), 1, 'error: RuntimeError: CUDA out of memory'),
    (KeyError('model'), 1, "error: KeyError: model"),
    (KeyboardInterrupt(), 130, 'error: interrupted'),
])
def test_exit_code_and_first_line(error, code, first_line, capsys):
    assert _run(error) == code
    err = capsys.readouterr().err
    assert err.splitlines()[0] == first_line
    assert 'Traceback' not in err


def test_unforeseen_errors_point_at_debug(capsys):
    _run(RuntimeError('boom'))
    assert '--debug' in capsys.readouterr().err


@pytest.mark.parametrize('how', ['flag', 'env'])
def test_debug_shows_the_traceback(how, capsys, monkeypatch):
    if how == 'env':
        monkeypatch.setenv(cli.DEBUG_ENV, '1')
    code = _run(ValueError('bad row'), ['--debug'] if how == 'flag' else [])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith('error: bad row\n')
    assert 'Traceback (most recent call last)' in err


def test_long_lines_are_shortened(capsys):
    row = 'x' * 50_000
    _run(ValueError(f'a.csv, line 1: bad row {row}'))
    err = capsys.readouterr().err
    assert len(err.splitlines()[0]) < cli.MAX_LINE + 60
    assert '(49' in err  # says how much was left out


def test_quote_keeps_about_200_characters():
    assert cli.quote('short') == "'short'"
    quoted = cli.quote('y' * 1000)
    assert len(quoted) < 250 and '800 more characters' in quoted


def test_dataloader_worker_error_keeps_the_original_message():
    message = ('Caught AVAFormatError in DataLoader worker process 0.\n'
               'Original Traceback (most recent call last):\n'
               '  File "x.py", line 3, in f\n    raise AVAFormatError(...)\n'
               'videomae_det.formats.AVAFormatError: ann.csv, line 7: timestamp \'x\'')
    assert cli.describe(ValueError(message)) == "ann.csv, line 7: timestamp 'x'"


def test_return_value_is_the_exit_code():
    assert cli.run(lambda argv: None, []) == 0
    assert cli.run(lambda argv: 1, []) == 1


def test_parser_errors_use_the_same_format(capsys):
    parser = cli.ArgumentParser(prog='tool')
    parser.add_argument('--threshold', type=cli.unit_interval)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(['--threshold', 'nan'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --threshold: 'nan' is not a finite number")
    assert parser.parse_args(['--debug']).debug is True


@pytest.mark.parametrize('kind, text, ok', [
    (cli.unit_interval, '0', True), (cli.unit_interval, '1', True),
    (cli.unit_interval, '1.5', False), (cli.unit_interval, '-0.1', False),
    (cli.unit_interval, 'nan', False), (cli.positive, '0', False),
    (cli.positive, 'inf', False), (cli.positive, '0.5', True),
    (cli.positive_int, '0', False), (cli.positive_int, '3', True),
])
def test_argument_types(kind, text, ok):
    if ok:
        kind(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            kind(text)


def test_output_that_is_an_input_is_refused(tmp_path):
    video = tmp_path / 'v.mp4'
    video.write_bytes(b'video')
    link = tmp_path / 'link.mp4'
    link.symlink_to(video)
    for out in (video, link, tmp_path / '.' / 'v.mp4'):
        with pytest.raises(cli.UsageError, match='is the input video'):
            cli.check_outputs({'--out': out}, {'video': video})
    with pytest.raises(cli.UsageError, match='same file'):
        cli.check_outputs({'--csv': tmp_path / 'a', '--json': tmp_path / 'a'}, {})
    cli.check_outputs({'--out': tmp_path / 'new' / 'o.mp4', '--csv': None}, {'video': video})
    assert video.read_bytes() == b'video'


def test_unwritable_outputs_are_refused(tmp_path):
    with pytest.raises(cli.UsageError, match='is a folder'):
        cli.check_writable(tmp_path)
    ro = tmp_path / 'ro'
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os
        if os.access(ro, os.W_OK):  # root ignores permissions
            pytest.skip('running as root')
        with pytest.raises(cli.UsageError, match='permission denied'):
            cli.check_writable(ro / 'sub' / 'out.json')
        with pytest.raises(cli.UsageError, match='not writable|cannot be created'):
            cli.check_writable_dir(ro / 'work')
    finally:
        ro.chmod(0o700)


def test_unsafe_checkpoint_message_is_one_line_and_does_not_advise_turning_safety_off(tmp_path):
    import os
    import torch

    class Payload:
        def __reduce__(self):
            return (os.system, ('true',))
    path = tmp_path / 'evil.pth'
    torch.save({'w': Payload()}, path)
    with pytest.raises(pickle.UnpicklingError) as info:
        torch.load(path, weights_only=True)
    text = cli.describe(info.value)
    assert '\n' not in text and 'could run code' in text and 'system' in text
    assert 'weights_only` set to `False`' not in text
