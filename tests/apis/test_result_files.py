"""AVA result CSV and JSON files written from keyframe results."""
import json

import numpy as np
import pytest

from videomae_det.apis import KeyframeResult, ava_csv_text, write_ava_csv, write_results_json
from videomae_det.apis.inference import top_actions
from videomae_det.formats import CSVBox, iter_csv_rows


def _result(timestamp, n_boxes, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 1, (n_boxes, 80)).astype(np.float32)
    norm = np.tile(np.array([[0.1, 0.2, 0.5, 0.9]], np.float32), (n_boxes, 1))
    return KeyframeResult('vid', timestamp, int(timestamp * 25), norm * [640, 360, 640, 360],
                          norm, np.ones(n_boxes, np.float32), scores,
                          top_actions(scores, 0.5, [12, 14, 79]))


def test_csv_rows_whole_seconds_readable_as_ava(tmp_path):
    results = [_result(902, 2), _result(903, 0), _result(904, 1, seed=1)]
    path = tmp_path / 'out.csv'
    write_ava_csv(path, results, [14, 12, 79])
    rows = [row for _, row in iter_csv_rows(path)]
    assert len(rows) == 3 * 3  # (2 + 0 + 1 boxes) x 3 action ids
    assert all(isinstance(r, CSVBox) and r.movie == 'vid' for r in rows)
    assert [r.timestamp for r in rows] == [902] * 6 + [904] * 3
    assert [r.action_id for r in rows[:3]] == [12, 14, 79]
    assert rows[0].box == pytest.approx((0.1, 0.2, 0.5, 0.9))
    assert rows[1].extra == pytest.approx(results[0].action_scores[0, 13], abs=1e-6)
    assert path.read_text().splitlines()[0].startswith('vid,902,0.1000,0.2000,0.5000,0.9000,12,')


def test_csv_fractional_keyframes_use_three_decimals():
    text = ava_csv_text([_result(0.0, 1), _result(0.5, 1)], [12])
    assert [line.split(',')[1] for line in text.splitlines()] == ['0.000', '0.500']


def test_json_holds_boxes_actions_and_all_scores(tmp_path):
    results = [_result(1.0, 2)]
    path = tmp_path / 'out.json'
    write_results_json(path, results, {12: 'stand', 14: 'walk', 79: 'talk to'},
                       meta=dict(video='x.mp4'))
    data = json.loads(path.read_text())
    assert data['meta'] == {'video': 'x.mp4'}
    kf = data['keyframes'][0]
    assert kf['timestamp'] == 1.0 and kf['frame_index'] == 25 and len(kf['people']) == 2
    person = kf['people'][0]
    assert person['box'] == pytest.approx([64, 72, 320, 324], abs=0.01)
    assert len(person['scores']) == 80
    expected = [(a, s) for a, s in results[0].actions[0]]
    assert [(a['id'], a['score']) for a in person['actions']] == \
        [(a, pytest.approx(s, abs=1e-5)) for a, s in expected]
    assert all(a['name'] in ('stand', 'walk', 'talk to') for a in person['actions'])


def test_top_actions_threshold_order_and_subset():
    scores = np.zeros((1, 80), np.float32)
    scores[0, [11, 13, 0]] = [0.4, 0.9, 0.95]  # ids 12, 14, 1
    assert top_actions(scores, 0.3, [12, 14]) == [[(14, pytest.approx(0.9)),
                                                   (12, pytest.approx(0.4))]]
    assert top_actions(scores, 0.95, [1, 12, 14]) == [[(1, pytest.approx(0.95))]]
