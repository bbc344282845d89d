"""tools/train.py and tools/test.py on bad inputs, against a real (tiny) mini-AVA: exit code,
first line, nothing destroyed, one run per work dir."""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from bad_input import REPO, Case, check_case, run_cases

pytestmark = pytest.mark.slow  # builds models in subprocesses: a few minutes

CONFIG = str(REPO / 'configs' / 'mini_ava' / 'vit_tiny.py')
# the tiny model of tests/tools (trains in seconds); the workspace holds data/mini_ava
TINY = ['model.backbone.embed_dim=32', 'model.backbone.depth=1', 'model.backbone.num_heads=2',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0']
ANN = 'data/mini_ava/annotations'
RUN_LOG = ['work_dirs/vit_tiny/*']  # mmengine's log folder and config dump of a run


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('touch pwned',))


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    import torch
    from mmengine.config import Config

    from videomae_det.datasets.mini_ava import generate_mini_ava
    ws = tmp_path_factory.mktemp('train_test') / 'ws'
    generate_mini_ava(ws / 'data' / 'mini_ava', seed=0, size='tiny', workers=1)
    spec = importlib.util.spec_from_file_location('apis_conftest',
                                                  REPO / 'tests' / 'apis' / 'conftest.py')
    apis_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(apis_conftest)
    apis_conftest.save_random_checkpoint(Config.fromfile(CONFIG), ws / 'tiny.pth')
    torch.save({'state_dict': {}, 'meta': _RunsCode()}, ws / 'evil.pth')
    (ws / 'corrupt.pth').write_bytes(b'\x80\x02 definitely not a checkpoint' * 10)
    # a JSON annotation file whose values have the wrong types
    ann = json.loads((ws / ANN / 'ava_val_v2.2_min.json').read_text())
    ann['annotations'][0]['bbox'] = ['left', 'top', 10, 10]
    (ws / ANN / 'bad_types_min.json').write_text(json.dumps(ann))
    (ws / 'results.csv').write_text('the previous results\n')
    (ws / 'file').write_text('a file, not a folder\n')
    return ws


TEST_CASES = [
    Case('missing checkpoint', [CONFIG, 'no.pth'], 2, r'error: .*no\.pth'),
    Case('unsafe checkpoint', [CONFIG, 'evil.pth', '--cfg-options', *TINY], 2,
         r'error: .*evil\.pth', RUN_LOG),
    Case('corrupt checkpoint', [CONFIG, 'corrupt.pth', '--cfg-options', *TINY], 2,
         r'error: .*corrupt\.pth', RUN_LOG),
    Case('--out is the config', [CONFIG, 'tiny.pth', '--out', CONFIG], 2,
         r'error: --out .*vit_tiny\.py is the input config'),
    Case('--out is the ground truth', [CONFIG, 'tiny.pth', '--out', f'{ANN}/ava_val_v2.2.csv'], 2,
         r'error: --out .*ava_val_v2\.2\.csv is the input test_evaluator\.ann_file'),
    Case('--out inside a file', [CONFIG, 'tiny.pth', '--out', 'file/results.csv'], 2,
         r'error: --out file/results\.csv: .*not a folder'),
    Case('--cfg-options value of the wrong type',
         [CONFIG, 'tiny.pth', '--cfg-options', 'test_dataloader.batch_size=two'], 2,
         r"error: --cfg-options test_dataloader\.batch_size='two': .*number"),
    Case('--cfg-options typo', [CONFIG, 'tiny.pth', '--cfg-options', 'test_dataloder.x=1'], 2,
         r"error: --cfg-options test_dataloder\.x: .*no key 'test_dataloder'"),
    Case('annotation JSON with wrong value types',
         [CONFIG, 'tiny.pth', '--out', 'results.csv', '--cfg-options', *TINY,
          'test_dataloader.dataset.ann_file=annotations/bad_types_min.json'], 2,
         r'error: .*bad_types_min\.json', RUN_LOG),
    Case('work dir inside a file', [CONFIG, 'tiny.pth', '--work-dir', 'file/work',
                                    '--cfg-options', *TINY], 2, r'error: .*file'),
]


def test_test_tool(workspace):
    results = run_cases('test', TEST_CASES, workspace)
    failures = []
    for case in TEST_CASES:
        try:
            check_case(case, results[case.name])
        except AssertionError as e:
            failures.append(f'{case.name}: {e}')
    assert not failures, '\n\n'.join(failures)
    assert not (workspace / 'pwned').exists()


TRAIN_CASES = [
    Case('work dir in use by another run', [CONFIG, '--work-dir', 'busy', '--cfg-options', *TINY],
         2, r'error: work dir busy is in use by another training run \(pid \d+ on '),
    Case('--resume with nothing to resume', [CONFIG, '--work-dir', 'empty', '--resume',
                                             '--cfg-options', *TINY], 2,
         r'error: --resume: nothing to resume in empty'),
    Case('--resume from a missing checkpoint', [CONFIG, '--resume', 'no.pth'], 2,
         r'error: --resume: checkpoint not found: no\.pth'),
    Case('work dir inside a file', [CONFIG, '--work-dir', 'file/work', '--cfg-options', *TINY],
         2, r'error: work dir file/work (is not|cannot|exists)'),
    Case('--cfg-options value of the wrong type',
         [CONFIG, '--cfg-options', 'train_dataloader.batch_size=abc'], 2,
         r"error: --cfg-options train_dataloader\.batch_size='abc': .*number"),
    Case('--cfg-options nan learning rate',
         [CONFIG, '--cfg-options', 'optim_wrapper.optimizer.lr=nan'], 2,
         r'error: --cfg-options optim_wrapper\.optimizer\.lr=nan: .*finite'),
    Case('missing config', ['nowhere.py'], 2, r'error: config file not found: nowhere\.py'),
    Case('annotation JSON with wrong value types',
         [CONFIG, '--work-dir', 'w', '--cfg-options', *TINY,
          'train_dataloader.dataset.ann_file=annotations/bad_types_min.json'], 2,
         r'error: .*bad_types_min\.json', ['w/*']),  # the lock and mmengine's log
]


def test_train_tool(workspace):
    busy = workspace / 'busy'
    (workspace / 'empty').mkdir(exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys, time\nfrom videomae_det.engine.work_dir import '
         'WorkDirLock\nwith WorkDirLock(sys.argv[1]):\n    print("locked", flush=True)\n'
         '    time.sleep(600)\n', str(busy)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, 'PYTHONPATH': str(REPO)})
    try:
        assert holder.stdout.readline().strip() == 'locked'
        (busy / 'epoch_1.pth').write_bytes(b'the other run\'s checkpoint')
        results = run_cases('train', TRAIN_CASES, workspace)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    failures = []
    for case in TRAIN_CASES:
        try:
            check_case(case, results[case.name])
        except AssertionError as e:
            failures.append(f'{case.name}: {e}')
    assert not failures, '\n\n'.join(failures)
    shutil.rmtree(workspace / 'w', ignore_errors=True)
