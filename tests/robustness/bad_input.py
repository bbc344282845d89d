"""Running a tool on bad inputs as a user would, and checking what it left behind.

:func:`run_cases` runs one tool (``tools/<name>.py``) on every case of a table in ONE
subprocess: a driver executes the file as ``__main__`` once per case (``runpy``, as
``python tools/x.py ...`` does), with that case's ``sys.argv``, so torch and mmengine are
imported once per table rather than once per case. For each case it records the exit
status, stdout, stderr and every file of the workspace that was created, changed or
removed by that case.
"""
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]

# temporaries of our atomic writers (.name.host.pid.x.tmp, .name.host.pid.partial.mp4, ...)
TEMPORARY = re.compile(r'^\..+\.(tmp|partial\.\w+|tmp\.\w+)$')

_DRIVER = r'''
import contextlib, hashlib, io, json, os, runpy, sys, traceback

tool, workspace, cases_file, results_file = sys.argv[1:5]


def snapshot():
    files = {}
    for root, dirs, names in os.walk(workspace):
        for name in names:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            with open(path, 'rb') as f:
                files[os.path.relpath(path, workspace)] = hashlib.sha1(f.read()).hexdigest()
    return files


def forget_mmengine_instances():
    """A fresh process starts with none: two runs of one config in the same second share
    the Runner's name, and mmengine warns on stderr about the second DefaultScope, MMLogger
    and Visualizer of that name, which a user's own process never does."""
    utils = sys.modules.get('mmengine.utils')
    if utils is None:
        return
    classes = [utils.ManagerMixin]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        instances = cls.__dict__.get('_instance_dict')
        if instances is not None:
            instances.clear()


results = []
for case in json.load(open(cases_file)):
    forget_mmengine_instances()
    before = snapshot()
    sys.argv = [tool] + case['argv']
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(tool, run_name='__main__')
            code = 0
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                code = e.code or 0
            else:  # sys.exit('message'): the interpreter prints it and exits 1
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException:  # escaped the tool: what a user sees is the traceback
            traceback.print_exc()
            code = 'uncaught'
    after = snapshot()
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    results.append(dict(code=code, stdout=out.getvalue(), stderr=err.getvalue(),
                        changed=changed))
json.dump(results, open(results_file, 'w'))
'''


class Case(NamedTuple):
    """One bad input: ``argv`` (paths relative to the workspace), the expected exit status,
    a regex the first line of stderr must match, and glob patterns of the files (relative
    to the workspace) the case may write, e.g. the log folder of a run; everything else must
    stay byte-identical."""
    name: str
    argv: Sequence[str]
    code: int
    first_line: str
    may_write: Sequence[str] = ()


def run_cases(tool: str, cases: Sequence[Case], workspace: Path,
              env: Optional[Dict[str, str]] = None, timeout: int = 1500) -> Dict[str, dict]:
    """Run ``tools/<tool>.py`` (``tool`` may be ``data/ava/x``) on every case, cwd =
    ``workspace``; {case name: result}."""
    stem = tool.replace('/', '_')
    cases_file = workspace.parent / f'{stem}_cases.json'
    results_file = workspace.parent / f'{stem}_results.json'
    cases_file.write_text(json.dumps([dict(argv=list(c.argv)) for c in cases]))
    driver = workspace.parent / 'driver.py'
    driver.write_text(_DRIVER)
    environ = {**os.environ, 'PYTHONPATH': str(REPO), 'OMP_NUM_THREADS': '1', **(env or {})}
    environ.pop('VIDEOMAE_DET_DEBUG', None)
    proc = subprocess.run([sys.executable, str(driver), str(REPO / 'tools' / f'{tool}.py'),
                           str(workspace), str(cases_file), str(results_file)],
                          cwd=workspace, env=environ, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f'driver failed:\n{proc.stderr[-3000:]}'
    results = json.loads(results_file.read_text())
    return {case.name: result for case, result in zip(cases, results)}


def check_case(case: Case, result: dict) -> None:
    """Exit status, first line of the message, no traceback, no file destroyed, no
    temporary file left behind."""
    err = result['stderr']
    shown = f'stderr:\n{err[-2000:]}'
    assert 'Traceback' not in err, shown
    assert result['code'] == case.code, shown
    first = err.strip().splitlines()[0] if err.strip() else ''
    assert re.match(case.first_line, first), f'first line {first!r}\n{shown}'
    assert len(first) <= 400, 'a message line must not quote a whole row'
    unexpected = [f for f in result['changed']
                  if not any(fnmatch.fnmatch(f, pattern) for pattern in case.may_write)]
    assert not unexpected, f'files created/changed/removed: {unexpected}'
    assert not [f for f in result['changed'] if TEMPORARY.match(Path(f).name)]


def digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()
