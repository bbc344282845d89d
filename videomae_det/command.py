"""``videomae-det``: the installed command. Each subcommand runs one script of ``tools/``.

    videomae-det quickstart --size tiny --pretrain-epochs 1 --epochs 1 --skip-static
    videomae-det test ava/vit_b vit_b_ava.pth --out results.csv
    videomae-det infer movie.mp4 --config ava/vit_b --checkpoint vit_b_ava.pth --out out.mp4
    videomae-det data make-mini-ava data/mini_ava --size tiny
    videomae-det configs                      # the packaged configs, by name

A subcommand *is* its script: ``videomae-det test ARGS`` executes ``tools/test.py`` as
``python tools/test.py ARGS`` would (same arguments, output, errors and exit codes), so the
scripts stay the reference and the command adds no second implementation. The one thing
the command adds: where a tool takes a config (the first positional argument, or
``--config``), a packaged config can be named instead of given as a path -- ``ava/vit_b``,
``ava/vit_b.py`` or ``configs/ava/vit_b.py`` -- and a file that exists at that path wins.

Where the scripts and configs are: in a wheel, ``tools/`` and ``configs/`` are installed as
``videomae_det/_project/{tools,configs}`` (setup.py); in a source checkout (editable
install, or ``PYTHONPATH``) they are the checkout's own folders.
"""
import os
import sys
import types
from pathlib import Path
from typing import Dict, List, Optional

import videomae_det

EXIT_USAGE = 2

# subcommand -> tool script (relative to tools/), where the name is not the script's own;
# every other script of tools/ is its file name with '-' for '_' (check_data -> check-data),
# and every script of tools/data/ is `data <name>` (make_mini_ava -> data make-mini-ava)
ALIASES = {
    'eval': 'eval_ava.py',
    'convert': 'convert_checkpoint.py',
    'export': 'export_onnx.py',
    'pretrain': 'train.py',
}
SUMMARIES = {
    'train': 'train a detector (or pretrain: any config) with mmengine',
    'pretrain': 'VideoMAE pretraining: `train` with a configs/pretrain config',
    'test': 'evaluate a checkpoint on the config\'s test set (frame mAP@0.5)',
    'eval': 'score an AVA result CSV against ground truth (frame mAP@0.5)',
    'infer': 'detect actions in a video, stream or frames folder',
    'convert': 'convert released VideoMAE / detector checkpoints to ours',
    'export': 'export a detector to ONNX',
    'check-data': 'check every file a config reads before a long run',
    'quickstart': 'the whole job end to end on mini-AVA (data, pretrain, train, eval, infer)',
    'data': 'dataset tools: `videomae-det data` lists them',
    'configs': 'list the packaged configs (names usable wherever a config is asked for)',
}
# where each tool takes its config: a positional index among the arguments, or an option
CONFIG_ARGUMENT = {
    'train.py': 0, 'test.py': 0, 'check_data.py': 0, 'export_onnx.py': 0,
    'overfit_batch.py': 0, 'visualize_mae.py': 0,
    'infer.py': '--config', 'convert_checkpoint.py': '--config',
}
# shown after a subcommand's own --help
SUBCOMMAND_EXAMPLES = {
    'train': 'videomae-det train mini_ava/vit_tiny --work-dir work_dirs/vit_tiny',
    'pretrain': 'videomae-det pretrain pretrain/mini_ava --work-dir work_dirs/pretrain',
    'test': 'videomae-det test ava/vit_b vit_b_ava.pth --out results.csv',
    'eval': ('videomae-det eval ava_val_v2.2.csv results.csv --label-map '
             'ava_action_list_v2.2_for_activitynet_2019.pbtxt --out report.json'),
    'infer': ('videomae-det infer movie.mp4 --config ava/vit_b --checkpoint vit_b_ava.pth '
              '--out annotated.mp4 --csv detections.csv'),
    'convert': 'videomae-det convert vit_b_k400_pt.pth vit_b_backbone.pth',
    'export': 'videomae-det export ava/vit_b vit_b_ava.pth vit_b_ava.onnx',
    'check-data': 'videomae-det check-data ava/vit_b',
    'quickstart': ('videomae-det quickstart --size tiny --pretrain-epochs 1 --epochs 1 '
                   '--skip-static'),
}
EXAMPLES = """examples:
  videomae-det quickstart --size tiny --pretrain-epochs 1 --epochs 1 --skip-static
  videomae-det test ava/vit_b vit_b_ava.pth --out results.csv
  videomae-det infer movie.mp4 --config ava/vit_b --checkpoint vit_b_ava.pth --out out.mp4
  videomae-det <subcommand> --help     # that tool's own arguments"""


class CommandError(Exception):
    """A usage error of the command itself (unknown subcommand or config name): exit 2."""


def project_root() -> Path:
    """The folder holding ``tools/`` and ``configs/``: the wheel's bundled copy, or the
    source checkout this package is imported from."""
    package = Path(videomae_det.__file__).resolve().parent
    for root in (package / '_project', package.parent):
        if (root / 'tools').is_dir() and (root / 'configs').is_dir():
            return root
    raise CommandError(f'no tools/ and configs/ next to {package}: the package is '
                       'installed without them; reinstall it from a wheel or a checkout')


def tool_scripts(folder: str = '') -> Dict[str, Path]:
    """``{subcommand name: script}`` for the scripts of ``tools/<folder>`` (recursively for
    ``data``, whose scripts are named by their file name alone)."""
    base = project_root() / 'tools' / folder
    pattern = '**/*.py' if folder else '*.py'
    scripts = {}
    for path in sorted(base.glob(pattern)):
        if path.name.startswith('_'):
            continue
        scripts[path.stem.replace('_', '-')] = path
    return scripts


def config_names() -> List[str]:
    """Every packaged config, by name (``ava/vit_b``: its path under configs/, no ``.py``)."""
    root = project_root() / 'configs'
    return sorted(p.relative_to(root).with_suffix('').as_posix() for p in root.rglob('*.py')
                  if '__pycache__' not in p.parts and not p.name.startswith('_'))


def resolve_config(name_or_path: str) -> str:
    """The path of a config given by path or by packaged name.

    An existing file is returned as given. Otherwise ``ava/vit_b``, ``ava/vit_b.py`` and
    ``configs/ava/vit_b.py`` all name ``<configs>/ava/vit_b.py``. Raises
    :class:`CommandError` (naming close names) when it is neither.
    """
    if os.path.isfile(name_or_path):
        return name_or_path
    name = Path(name_or_path).as_posix()
    name = name[len('configs/'):] if name.startswith('configs/') else name
    name = name[:-len('.py')] if name.endswith('.py') else name
    candidate = project_root() / 'configs' / f'{name}.py'
    if candidate.is_file() and not name.startswith(('/', '../')):
        return str(candidate)
    stem = Path(name).name
    close = [n for n in config_names() if Path(n).name == stem or n.startswith(name)]
    hint = (f'; did you mean {", ".join(close)}?' if close
            else '; `videomae-det configs` lists the packaged ones')
    raise CommandError(f'config {name_or_path!r} is neither a file nor a packaged config'
                       f'{hint}')


def resolve_config_argument(script: str, argv: List[str]) -> List[str]:
    """``argv`` with the tool's config argument (see :data:`CONFIG_ARGUMENT`) resolved to a
    path. Only a positional config counts arguments before it, so ``--x y`` pairs ahead of
    it are left for the tool's parser to judge; for those tools a config comes first."""
    where = CONFIG_ARGUMENT.get(script)
    argv = list(argv)
    if isinstance(where, int):
        if len(argv) > where and not argv[where].startswith('-'):
            argv[where] = resolve_config(argv[where])
    elif where is not None:
        for i, arg in enumerate(argv):
            if arg == where and i + 1 < len(argv):
                argv[i + 1] = resolve_config(argv[i + 1])
            elif arg.startswith(where + '='):
                argv[i] = f'{where}={resolve_config(arg[len(where) + 1:])}'
    return argv


def run_script(script: Path, prog: str, argv: List[str]) -> int:
    """Execute ``script`` as ``python script argv`` would (as module ``__main__``), with
    ``prog`` as ``sys.argv[0]``, so its usage and messages name the subcommand. Returns its
    exit status. (``runpy.run_path`` would reset ``sys.argv[0]`` to the file's path.)"""
    code = compile(script.read_bytes(), str(script), 'exec')
    module = types.ModuleType('__main__')
    module.__file__ = str(script)
    saved = sys.argv, sys.modules['__main__']
    sys.argv, sys.modules['__main__'] = [prog, *argv], module
    try:
        exec(code, module.__dict__)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    finally:
        sys.argv, sys.modules['__main__'] = saved
    return 0


def usage() -> str:
    tools = tool_scripts()
    aliased = {Path(script).stem.replace('_', '-') for script in ALIASES.values()} - {'train'}
    names = sorted(set(SUMMARIES) | set(tools) - aliased)
    width = max(map(len, names))
    lines = [f'  {n:<{width}}  {SUMMARIES[n] if n in SUMMARIES else "tools/" + tools[n].name}'
             for n in names]
    return ('usage: videomae-det <subcommand> [arguments]\n\n'
            'Spatio-temporal action detection (AVA) with VideoMAE ViT backbones.\n'
            'Each subcommand runs the script of tools/ of the same name; a config can be '
            'given\nby path or by packaged name (ava/vit_b).\n\nsubcommands:\n'
            + '\n'.join(lines) + '\n\n' + EXAMPLES)


def dispatch(argv: List[str]) -> int:
    if not argv or argv[0] in ('-h', '--help', 'help'):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else EXIT_USAGE
    if argv[0] in ('-V', '--version'):
        print(f'videomae-det {videomae_det.__version__}')
        return 0
    command, rest = argv[0], argv[1:]
    if command == 'configs':
        print('\n'.join(config_names()))
        return 0
    if command == 'data':
        scripts = tool_scripts('data')
        if not rest or rest[0] in ('-h', '--help'):
            print('usage: videomae-det data <tool> [arguments]\n\ntools:\n' + '\n'.join(
                f'  {n:<20}  tools/{p.relative_to(project_root() / "tools").as_posix()}'
                for n, p in scripts.items()), file=sys.stdout if rest else sys.stderr)
            return 0 if rest else EXIT_USAGE
        if rest[0] not in scripts:
            raise CommandError(f'unknown data tool {rest[0]!r}; the data tools are: '
                               f'{", ".join(scripts)}')
        return run_script(scripts[rest[0]], f'videomae-det data {rest[0]}', rest[1:])
    scripts = tool_scripts()
    script = (project_root() / 'tools' / ALIASES[command] if command in ALIASES
              else scripts.get(command))
    if script is None:
        raise CommandError(f'unknown subcommand {command!r}; `videomae-det --help` lists '
                           'them')
    if '-h' in rest or '--help' in rest:
        code = run_script(script, f'videomae-det {command}', rest)
        if code == 0 and command in SUBCOMMAND_EXAMPLES:
            print(f'\nexample:\n  {SUBCOMMAND_EXAMPLES[command]}')
        return code
    rest = resolve_config_argument(script.name, rest)
    return run_script(script, f'videomae-det {command}', rest)


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return dispatch(argv)
    except CommandError as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_USAGE
