"""tools/eval_tracks.py on the tiny mini-AVA preset: ground-truth boxes and labels beat
the preset's imperfect detections; a crippled tracker is scored down. (The metric wiring
itself is checked where the answer is exact: tests/tracking/test_evaluation.py.)"""
import json

import numpy as np
import pytest

from videomae_det.formats import load_min_json, read_ground_truth_csv, read_label_map


def _gt_as_detections(root, path):
    """The ground-truth boxes as a COCO results list, score 0.95."""
    gt = read_ground_truth_csv(root / 'annotations' / 'ava_val_v2.2.csv')
    min_json = load_min_json(root / 'annotations' / 'ava_val_v2.2_min.json')
    ids = {(img['movie'], int(img['timestamp'])): img for img in min_json['images']}
    out = []
    for key, people in gt.persons.items():
        img = ids[key]
        for (x1, y1, x2, y2), _, _ in people:
            w, h = img['width'], img['height']
            out.append(dict(image_id=img['id'], category_id=1, score=0.95,
                            bbox=[x1 * w, y1 * h, (x2 - x1) * w, (y2 - y1) * h]))
    path.write_text(json.dumps(out))
    return gt


def test_ground_truth_boxes_and_labels_score_high(tool, tiny_mini_ava, tmp_path):
    eval_tracks = tool('eval_tracks')
    boxes = tmp_path / 'gt_boxes.json'
    gt = _gt_as_detections(tiny_mini_ava, boxes)
    actions = sorted(read_label_map(next((tiny_mini_ava / 'annotations').glob('*.pbtxt'))))
    results = tmp_path / 'gt_results.csv'
    with results.open('w') as f:
        for (movie, ts), people in gt.persons.items():
            for box, _, labels in people:
                for a in actions:
                    f.write(f'{movie},{ts:04d},{",".join(f"{v:.4f}" for v in box)},{a},'
                            f'{1.0 if a in labels else 0.0}\n')
    out = tmp_path / 'report.json'
    assert eval_tracks.main(['--data-root', str(tiny_mini_ava), '--boxes', str(boxes),
                             '--results', str(results), '--out', str(out)]) == 0
    report = json.loads(out.read_text())
    overall = report['mot']['OVERALL']
    # exact boxes: no misses, no false positives; only the tracker's own id mistakes remain
    assert overall['num_misses'] == 0 and overall['num_false_positives'] <= 1
    assert overall['idf1'] >= 0.8 and overall['mota'] >= 0.8
    seg = report['segments']
    assert seg['true_segments'] > 0 and seg['mean_tiou'] >= 0.7
    assert seg['precision_at_05'] >= 0.7


def test_default_detections_give_imperfect_but_sane_tracks(tool, tiny_mini_ava, capsys):
    eval_tracks = tool('eval_tracks')
    assert eval_tracks.main(['--data-root', str(tiny_mini_ava)]) == 0
    text = capsys.readouterr().out
    idf1 = float(text.split('IDF1 ')[1].split()[0])
    mota = float(text.split('MOTA ')[1].split()[0])
    # the preset's detector misses people and adds false positives: below perfect
    assert 0.3 < idf1 < 1.0 and 0.0 < mota < 1.0


def test_a_tracker_that_forgets_everyone_is_scored_down(tool, tiny_mini_ava, tmp_path):
    """max_lost 0 and no motion: every gap becomes a new id -> more switches, lower IDF1."""
    eval_tracks = tool('eval_tracks')
    good, bad = tmp_path / 'good.json', tmp_path / 'bad.json'
    base = ['--data-root', str(tiny_mini_ava)]
    assert eval_tracks.main(base + ['--out', str(good)]) == 0
    assert eval_tracks.main(base + ['--out', str(bad), '--match-iou', '0.9',
                                    '--low-match-iou', '0.9', '--buffer', '0',
                                    '--birth-buffer', '0']) == 0
    g = json.loads(good.read_text())['mot']['OVERALL']
    b = json.loads(bad.read_text())['mot']['OVERALL']
    assert b['idf1'] < g['idf1'] and b['num_switches'] + b['num_misses'] > g['num_switches']


def test_missing_dataset_is_one_clear_error(tool, tmp_path, capsys):
    assert tool('eval_tracks').main(['--data-root', str(tmp_path / 'nowhere')]) == 1
    err = capsys.readouterr().err
    assert 'nowhere' in err and 'ava_val_v2.2.csv' in err
