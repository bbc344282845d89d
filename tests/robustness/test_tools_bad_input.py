"""The other tools on bad inputs (export_onnx, convert_checkpoint, visualize_mae,
overfit_batch, quickstart, check_data and the data converters): one table per tool, each
run in one subprocess; exit code, first line, no file changed or left half-written, no code
run from a checkpoint."""
import importlib.util
import json
import os

import pytest

from bad_input import REPO, Case, check_case, run_cases

pytestmark = pytest.mark.slow  # one interpreter with torch per tool: minutes in all

CONFIG = str(REPO / 'configs' / 'mini_ava' / 'vit_tiny.py')
PRETRAIN = str(REPO / 'configs' / 'pretrain' / 'mini_ava.py')


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('touch pwned',))


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    import torch
    from mmengine.config import Config

    from videomae_det.visualization.synthetic import write_synthetic_video
    ws = tmp_path_factory.mktemp('tools') / 'ws'
    ws.mkdir()
    spec = importlib.util.spec_from_file_location('apis_conftest',
                                                  REPO / 'tests' / 'apis' / 'conftest.py')
    apis_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(apis_conftest)
    cfg = Config.fromfile(CONFIG)
    apis_conftest.save_random_checkpoint(cfg, ws / 'tiny.pth')
    cfg.model.backbone.embed_dim *= 2
    apis_conftest.save_random_checkpoint(cfg, ws / 'wide.pth')
    torch.save({'state_dict': {}, 'meta': _RunsCode()}, ws / 'evil.pth')
    (ws / 'corrupt.pth').write_bytes(b'PK\x03\x04 not a checkpoint' * 10)
    write_synthetic_video(ws / 'v.mp4', num_frames=20, fps=10, size=(96, 64))
    (ws / 'model.onnx').write_bytes(b'the previous export')
    (ws / 'gt.csv').write_text('m,0902,0.1,0.1,0.5,0.9,12,0\nm,0903,0.1,x,0.5,0.9,12,0\n')
    (ws / 'ann_min.json').write_text(json.dumps(dict(images=[], annotations=[])))
    (ws / 'dets.json').write_text(json.dumps([dict(image_id='a', bbox='wide', score=0.9)]))
    (ws / 'file').write_text('a file, not a folder\n')
    (ws / 'clips').mkdir()
    return ws


def _check_table(tool, cases, workspace):
    results = run_cases(tool, cases, workspace)
    failures = []
    for case in cases:
        try:
            check_case(case, results[case.name])
        except AssertionError as e:
            failures.append(f'{case.name}: {e}')
    assert not failures, '\n\n'.join(failures)
    assert not (workspace / 'pwned').exists(), 'a checkpoint ran code'


def test_export_onnx(workspace):
    _check_table('export_onnx', [
        Case('out is the checkpoint', [CONFIG, 'tiny.pth', 'tiny.pth'], 2,
             r'error: out tiny\.pth is the input checkpoint'),
        Case('unsafe checkpoint', [CONFIG, 'evil.pth', 'model.onnx'], 2, r'error: .*evil\.pth'),
        Case('corrupt checkpoint', [CONFIG, 'corrupt.pth', 'model.onnx'], 2,
             r'error: .*corrupt\.pth'),
        Case('checkpoint of another architecture', [CONFIG, 'wide.pth', 'model.onnx'], 2,
             r'error: .*wide\.pth'),
        Case('missing config', ['nowhere.py', 'tiny.pth', 'model.onnx'], 2,
             r'error: .*nowhere\.py'),
        Case('zero-sized clip', [CONFIG, 'tiny.pth', 'model.onnx', '--shape', '0', '64', '64'], 2,
             r'error: argument --shape: 0 is not at least 1'),
        Case('out inside a file', [CONFIG, 'tiny.pth', 'file/model.onnx'], 2,
             r'error: out file/model\.onnx: .*not a folder'),
    ], workspace)


def test_convert_checkpoint(workspace):
    _check_table('convert_checkpoint', [
        Case('out is the source', ['tiny.pth', 'tiny.pth'], 2,
             r'error: out tiny\.pth is the input src'),
        Case('unsafe checkpoint', ['evil.pth', 'out.pth'], 2, r'error: .*evil\.pth'),
        Case('corrupt checkpoint', ['corrupt.pth', 'out.pth'], 2, r'error: .*corrupt\.pth'),
        Case('missing source', ['no.pth', 'out.pth'], 2, r'error: .*no\.pth'),
        Case('unknown --arch', ['tiny.pth', 'out.pth', '--arch', 'vit_giant'], 2,
             r"error: argument --arch: invalid choice: 'vit_giant'"),
    ], workspace)


def test_visualize_mae(workspace):
    _check_table('visualize_mae', [
        Case('--out is the video', [PRETRAIN, 'tiny.pth', 'v.mp4', '--out', 'v.mp4'], 2,
             r'error: --out v\.mp4 is the input video'),
        Case('--mask-ratio above 1', [PRETRAIN, 'tiny.pth', 'v.mp4', '--out', 'g.png',
                                      '--mask-ratio', '1.5'], 2,
             r'error: argument --mask-ratio: 1\.5 is outside \[0, 1\]'),
        Case('missing video', [PRETRAIN, 'tiny.pth', 'no.mp4', '--out', 'g.png'], 2,
             r'error: .*no\.mp4'),
        Case('unsafe checkpoint', [PRETRAIN, 'evil.pth', 'v.mp4', '--out', 'g.png'], 2,
             r'error: .*evil\.pth'),
    ], workspace)


def test_overfit_batch(workspace):
    _check_table('overfit_batch', [
        Case('--steps 0', [CONFIG, '--steps', '0'], 2,
             r'error: argument --steps: 0 is not at least 1'),
        Case('--lr nan', [CONFIG, '--lr', 'nan'], 2,
             r"error: argument --lr: 'nan' is not a finite number"),
        Case('missing config', ['nowhere.py'], 2, r'error: config file not found: nowhere\.py'),
        Case('--cfg-options value of the wrong type',
             [CONFIG, '--cfg-options', 'train_dataloader.batch_size=four'], 2,
             r"error: --cfg-options train_dataloader\.batch_size='four': expected a number"),
    ], workspace)


def test_quickstart_and_data_tools(workspace):
    _check_table('quickstart', [
        Case('--epochs 0', ['--epochs', '0'], 2, r'error: argument --epochs: must be at least 1'),
    ], workspace)
    _check_table('check_data', [
        Case('missing config', ['nowhere.py'], 2, r'error: config file not found: nowhere\.py'),
    ], workspace)
    _check_table('data/make_mini_ava', [
        Case('unknown preset', ['out', '--size', 'huge'], 2,
             r"error: argument --size: invalid choice: 'huge'"),
    ], workspace)
    _check_table('data/ava/csv_to_min_json', [
        Case('malformed ground-truth row', ['gt.csv', '--clips', 'clips', '--out', 'o.json'], 2,
             r'error: .*gt\.csv, line 2'),
    ], workspace)
    _check_table('data/ava/dets_to_json', [
        Case('wrong JSON value types', ['dets.json', '--ann', 'ann_min.json', '--out', 'o.json'],
             2, r'error: .*dets\.json'),
    ], workspace)
    _check_table('data/ava/cut_clips', [
        Case('missing raw folder', ['no_raw', 'clips'], 2, r'error: .*no_raw'),
    ], workspace)
