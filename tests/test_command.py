"""The installed ``videomae-det`` command (videomae_det/command.py): subcommands run the
scripts of tools/, configs resolve by packaged name, --help shows examples, and the wheel
carries tools/ and configs/."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from videomae_det import command

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / 'tests' / 'fixtures' / 'eval_detection'
EVAL_ARGS = [str(FIXTURES / 'gt.csv'), str(FIXTURES / 'pred.csv'), '--label-map',
             str(FIXTURES / 'action_list.txt')]
# the subcommands README.md and docs/install.md show (tests/test_docs.py checks the docs)
SUBCOMMANDS = ['train', 'pretrain', 'test', 'eval', 'infer', 'convert', 'export', 'data',
               'check-data', 'quickstart', 'configs']


def test_config_names_are_every_config_file():
    names = command.config_names()
    on_disk = sorted(p.relative_to(REPO / 'configs').with_suffix('').as_posix()
                     for p in (REPO / 'configs').rglob('*.py'))
    assert names == on_disk
    assert {'ava/vit_b', 'mini_ava/vit_tiny', 'pretrain/mini_ava'} <= set(names)


@pytest.mark.parametrize('name', ['ava/vit_b', 'ava/vit_b.py', 'configs/ava/vit_b.py'])
def test_resolve_config_by_name(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ here: the name must come from the package
    assert Path(command.resolve_config(name)) == REPO / 'configs' / 'ava' / 'vit_b.py'


def test_existing_file_wins_over_packaged_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'ava').mkdir()
    (tmp_path / 'ava' / 'vit_b.py').write_text('# a user config\n')
    assert command.resolve_config('ava/vit_b.py') == 'ava/vit_b.py'


def test_unknown_config_name_suggests_close_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(command.CommandError, match=r"'vit_b'.*did you mean ava/vit_b\b"):
        command.resolve_config('vit_b')
    with pytest.raises(command.CommandError, match='videomae-det configs'):
        command.resolve_config('ava/no_such_config')
    with pytest.raises(command.CommandError):
        command.resolve_config('../configs/ava/vit_b')  # names stay inside configs/


def test_config_argument_positional_and_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    vit_b = str(REPO / 'configs' / 'ava' / 'vit_b.py')
    assert command.resolve_config_argument('test.py', ['ava/vit_b', 'ckpt.pth']) == [
        vit_b, 'ckpt.pth']
    assert command.resolve_config_argument(
        'infer.py', ['v.mp4', '--config', 'ava/vit_b', '--out', 'ava/vit_b']) == [
        'v.mp4', '--config', vit_b, '--out', 'ava/vit_b']  # only the config is touched
    assert command.resolve_config_argument('infer.py', ['v.mp4', '--config=ava/vit_b']) == [
        'v.mp4', f'--config={vit_b}']
    assert command.resolve_config_argument('eval_ava.py', ['ava/vit_b']) == ['ava/vit_b']


def test_subcommand_is_the_script(tmp_path, capsys):
    """``videomae-det eval`` prints and writes what ``tools/eval_ava.py`` does, and its
    usage names the subcommand."""
    out_cmd, out_tool = tmp_path / 'cmd.json', tmp_path / 'tool.json'
    assert command.main(['eval', *EVAL_ARGS, '--out', str(out_cmd)]) == 0
    printed_cmd = capsys.readouterr().out
    script = subprocess.run([sys.executable, str(REPO / 'tools' / 'eval_ava.py'), *EVAL_ARGS,
                             '--out', str(out_tool)], capture_output=True, text=True)
    assert script.returncode == 0, script.stderr

    def strip_time(report):
        return {k: v for k, v in report.items() if 'second' not in k and 'time' not in k}
    assert strip_time(json.loads(out_cmd.read_text())) == strip_time(
        json.loads(out_tool.read_text()))
    assert 'mAP (official, mean of 3 classes): 0.0939' in printed_cmd
    assert command.main(['eval', '--bogus']) == 2
    assert 'usage: videomae-det eval' in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert command.main(['no-such-command']) == 2
    assert capsys.readouterr().err.startswith("error: unknown subcommand 'no-such-command'")
    assert command.main(['data', 'no-such-tool']) == 2
    assert 'make-mini-ava' in capsys.readouterr().err
    assert command.main(['test', 'ava/no_such_config', 'x.pth']) == 2
    assert capsys.readouterr().err.startswith("error: config 'ava/no_such_config'")
    assert command.main([]) == 2


def test_help_lists_subcommands_with_examples(capsys):
    assert command.main(['--help']) == 0
    text = capsys.readouterr().out
    listed = {line.split()[0] for line in text.split('subcommands:\n')[1].split('\n\n')[0]
              .splitlines()}
    assert set(SUBCOMMANDS) <= listed
    assert '\n  videomae-det test ava/vit_b ' in text
    assert command.main(['test', '--help']) == 0
    text = capsys.readouterr().out
    assert text.startswith('usage: videomae-det test')
    assert text.rstrip().endswith(command.SUBCOMMAND_EXAMPLES['test'])
    assert command.main(['data', '--help']) == 0
    assert 'make-mini-ava' in capsys.readouterr().out


@pytest.mark.slow
def test_python_dash_m_and_wheel_contents(tmp_path):
    """``python -m videomae_det`` is the command; the wheel holds every script of tools/,
    every config and the console entry point."""
    proc = subprocess.run([sys.executable, '-m', 'videomae_det', 'configs'],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == command.config_names()
    source = tmp_path / 'source'
    source.mkdir()  # a copy: a build leaves build/ and *.egg-info behind
    for name in ('setup.py', 'pyproject.toml', 'README.md', 'videomae_det', 'tools', 'configs'):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, source / name)
    build = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                            '--no-build-isolation', '-w', str(tmp_path), str(source)],
                           capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    wheel, = tmp_path.glob('videomae_det-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ('tools', 'configs'):
        for path in (REPO / folder).rglob('*'):
            if path.suffix in ('.py', '.sh') and '__pycache__' not in path.parts:
                rel = path.relative_to(REPO).as_posix()
                assert f'videomae_det/_project/{rel}' in names, rel
    entry_points, = [n for n in names if n.endswith('entry_points.txt')]
    assert 'videomae-det = videomae_det.command:main' in zipfile.ZipFile(wheel).read(
        entry_points).decode()
