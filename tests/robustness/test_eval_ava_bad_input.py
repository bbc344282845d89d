"""tools/eval_ava.py on bad inputs: exit code, first line, nothing destroyed."""
import shutil

import pytest

from bad_input import REPO, Case, check_case, run_cases

FIXTURES = REPO / 'tests' / 'fixtures' / 'eval_detection'
OK = ['gt.csv', 'pred.csv', '--label-map', 'map.pbtxt']

CASES = [
    Case('missing ground truth', ['nowhere.csv', 'pred.csv', '--label-map', 'map.pbtxt'], 2,
         r'error: nowhere\.csv: .*not found'),
    Case('malformed row, 20 kB long', ['gt.csv', 'long_row.csv', '--label-map', 'map.pbtxt',
                                       '--out', 'report.json'], 2,
         r'error: long_row\.csv, line 2: '),
    Case('label map with binary bytes', ['gt.csv', 'pred.csv', '--label-map', 'binary.pbtxt'],
         2, r'error: binary\.pbtxt'),
    Case('videos disjoint from the ground truth', ['gt.csv', 'other_videos.csv', '--label-map',
                                                   'map.pbtxt', '--out', 'report.json'], 2,
         r'error: other_videos\.csv and gt\.csv have no video in common'),
    Case('timestamps disjoint from the ground truth', ['gt.csv', 'shifted.csv', '--label-map',
                                                       'map.pbtxt'], 2,
         r'error: shifted\.csv and gt\.csv have no keyframe in common.*time-offset'),
    Case('--out is the detections file', OK + ['--out', 'pred.csv'], 2,
         r'error: --out pred\.csv is the input detections'),
    Case('--plot is the ground truth', OK + ['--plot', 'gt.csv'], 2,
         r'error: --plot gt\.csv is the input groundtruth'),
    Case('--out and --plot the same file', OK + ['--out', 'x.json', '--plot', 'x.json'], 2,
         r'error: --out and --plot are the same file'),
    Case('--out is a folder', OK + ['--out', 'results'], 2, r'error: --out results is a folder'),
    Case('--out inside a file', OK + ['--out', 'gt.csv/report.json'], 2,
         r'error: --out gt\.csv/report\.json: .*not a folder'),
    Case('unknown --mode', OK + ['--mode', 'strict'], 2,
         r"error: argument --mode: invalid choice: 'strict'"),
    Case('valid input still works', OK + ['--out', 'report.json'], 0, r'', ['report.json']),
]


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    ws = tmp_path_factory.mktemp('eval_ava') / 'ws'
    ws.mkdir()
    shutil.copy(FIXTURES / 'gt.csv', ws / 'gt.csv')
    shutil.copy(FIXTURES / 'pred.csv', ws / 'pred.csv')
    shutil.copy(FIXTURES / 'action_list.txt', ws / 'map.pbtxt')
    (ws / 'long_row.csv').write_text('3reY9zJKhqN,1774,0.1,0.1,0.5,0.5,1,0.9\n'
                                     '3reY9zJKhqN,' + 'x' * 20_000 + ',0.1\n')
    (ws / 'binary.pbtxt').write_bytes(b'item {\n  name: "\xff\xfe\x00\x01"\n  id: 1\n}\n')
    pred = (FIXTURES / 'pred.csv').read_text()
    rows = [r.split(',') for r in pred.strip().splitlines()]
    (ws / 'other_videos.csv').write_text(''.join(
        ','.join([f'other{r[0]}'] + r[1:]) + '\n' for r in rows))
    (ws / 'shifted.csv').write_text(''.join(
        ','.join([r[0], str(int(r[1]) - 900)] + r[2:]) + '\n' for r in rows))
    (ws / 'report.json').write_text('{"mAP": "the previous report"}\n')
    (ws / 'results').mkdir()
    return run_cases('eval_ava', CASES, ws)


@pytest.mark.parametrize('case', CASES, ids=[c.name for c in CASES])
def test_bad_input(case, results):
    check_case(case, results[case.name])
