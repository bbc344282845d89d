"""tools/infer.py on bad inputs: exit code, first line, no input overwritten, no code run
from a checkpoint, no half-written output."""
import importlib.util
import json
import os

import pytest

from bad_input import REPO, Case, check_case, run_cases

pytestmark = pytest.mark.slow  # builds the model in one subprocess: about a minute

CONFIG = str(REPO / 'configs' / 'mini_ava' / 'vit_tiny.py')
MODEL = ['--config', CONFIG, '--checkpoint', 'tiny.pth']


def _infer(*extra, video='v.mp4', model=MODEL):
    return [video, *model, *extra]


CASES = [
    Case('--out is the input video', _infer('--out', 'v.mp4'), 2,
         r'error: --out v\.mp4 is the input video'),
    Case('--out is the input video by another path', _infer('--out', './sub/../v.mp4'), 2,
         r'error: --out sub/\.\./v\.mp4 is the input video'),
    Case('--csv is the checkpoint', _infer('--csv', 'tiny.pth'), 2,
         r'error: --csv tiny\.pth is the input --checkpoint'),
    Case('--csv and --json the same file', _infer('--csv', 'r.txt', '--json', 'r.txt'), 2,
         r'error: --csv and --json are the same file'),
    Case('--threshold nan', _infer('--csv', 'out.csv', '--threshold', 'nan'), 2,
         r"error: argument --threshold: 'nan' is not a finite number"),
    Case('--threshold above 1', _infer('--csv', 'out.csv', '--threshold', '1.5'), 2,
         r'error: argument --threshold: 1\.5 is outside \[0, 1\]'),
    Case('--keyframe-interval 0', _infer('--csv', 'out.csv', '--keyframe-interval', '0'), 2,
         r'error: argument --keyframe-interval: 0 is not positive'),
    Case('--boxes outside [0, 1]', _infer('--csv', 'out.csv', '--detector', 'file', '--boxes',
                                          'boxes_px.csv'), 2,
         r'error: boxes_px\.csv, line 1: .*outside \[0, 1\]'),
    Case('--boxes JSON with a wrong value type', _infer('--csv', 'out.csv', '--detector', 'file',
                                                        '--boxes', 'boxes_types.json'), 2,
         r"error: boxes_types\.json: entry 0: bbox value 'abc' is not a number"),
    Case('unsafe checkpoint', _infer('--csv', 'out.csv', model=['--config', CONFIG,
                                                                '--checkpoint', 'evil.pth']), 2,
         r'error: .*evil\.pth.*refused'),
    Case('corrupt checkpoint', _infer('--csv', 'out.csv', model=['--config', CONFIG,
                                                                 '--checkpoint', 'corrupt.pth']),
         2, r'error: .*corrupt\.pth'),
    Case('checkpoint of another architecture',
         _infer('--csv', 'out.csv', model=['--config', CONFIG, '--checkpoint', 'wide.pth']), 2,
         r'error: .*wide\.pth'),
    Case('missing checkpoint', _infer('--csv', 'out.csv', model=['--config', CONFIG,
                                                                 '--checkpoint', 'no.pth']), 2,
         r'error: .*no\.pth'),
    Case('missing video', _infer('--csv', 'out.csv', video='absent.mp4'), 2,
         r'error: .*absent\.mp4'),
    Case('--out inside a file', _infer('--out', 'v.mp4/out.mp4'), 2,
         r'error: --out v\.mp4/out\.mp4: .*not a folder'),
    Case('nothing to write', _infer(), 2, r'error: nothing to write'),
    Case('valid input still works', _infer('--csv', 'out.csv', '--detector', 'file', '--boxes',
                                           'boxes.json'), 0, r'', ['out.csv']),
]


def _apis_conftest():
    spec = importlib.util.spec_from_file_location('apis_conftest',
                                                  REPO / 'tests' / 'apis' / 'conftest.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _RunsCode:
    """Unpickling this creates the file ``pwned``: a checkpoint that runs code."""

    def __reduce__(self):
        return (os.system, ('touch pwned',))


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    import torch
    from mmengine.config import Config

    from videomae_det.visualization.synthetic import write_synthetic_video
    ws = tmp_path_factory.mktemp('infer') / 'ws'
    ws.mkdir()
    write_synthetic_video(ws / 'v.mp4', num_frames=10, fps=10, size=(96, 64))
    cfg = Config.fromfile(CONFIG)
    _apis_conftest().save_random_checkpoint(cfg, ws / 'tiny.pth')
    wide = Config.fromfile(CONFIG)
    wide.model.backbone.embed_dim = 2 * cfg.model.backbone.embed_dim
    _apis_conftest().save_random_checkpoint(wide, ws / 'wide.pth')
    torch.save({'state_dict': {}, 'meta': _RunsCode()}, ws / 'evil.pth')
    (ws / 'corrupt.pth').write_bytes(b'PK\x03\x04 not really a checkpoint' * 10)
    (ws / 'boxes_px.csv').write_text('v,0,10,20,60,64,1,0\n')
    (ws / 'boxes_types.json').write_text(json.dumps(
        [dict(video_id='v', timestamp=0, bbox=['abc', 1, 2, 3], score=0.9)]))
    (ws / 'boxes.json').write_text(json.dumps(
        [dict(video_id='v', timestamp=0, bbox=[10, 5, 30, 50], score=0.9)]))
    (ws / 'out.csv').write_text('the previous results\n')
    (ws / 'out.mp4').write_bytes(b'the previous annotated video')
    return run_cases('infer', CASES, ws)


@pytest.mark.parametrize('case', CASES, ids=[c.name for c in CASES])
def test_bad_input(case, results):
    check_case(case, results[case.name])
