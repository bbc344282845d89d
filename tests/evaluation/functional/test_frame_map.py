"""Frame-level mAP: one hand-computed case per rule of the official protocol, the fixture
with known results, and cross-checks (legacy vs mmaction2's ava_eval, official vs a plain
loop-per-keyframe scorer) on generated cases."""
import numpy as np
import pytest

from videomae_det.evaluation.functional import (average_precision, evaluate_frame_map,
                                                rows_from_predictions)
from videomae_det.formats import (read_detections, read_exclusions, read_groundtruth,
                                  read_label_map, rows_from_text, write_box_csv)

from ava_cases import make_case
from ava_references import mmaction_legacy, naive_official

FIXTURES = 'tests/fixtures/eval_detection/'
LABELS = {1: 'one', 2: 'two'}


def score(gt, det, mode='official', labels=LABELS, **kw):
    result = evaluate_frame_map(rows_from_text(gt), rows_from_text(det), labels, mode, **kw)
    return result


def det_rows(key, box, label, scores):
    return ''.join(f'{key},{box},{label},{s}\n' for s in scores)


GT_BOX = '0.1,0.1,0.5,0.5'
FAR = '0.6,0.6,0.9,0.9'


# ---------------------------------------------------------------------------------------
# The fixture (known results under both the official script and mmaction2).
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('mode', ['official', 'legacy'])
def test_fixture_known_results(mode):
    result = evaluate_frame_map(read_groundtruth(FIXTURES + 'gt.csv'),
                                read_detections(FIXTURES + 'pred.csv'),
                                read_label_map(FIXTURES + 'action_list.txt'), mode)
    assert result.mAP == pytest.approx(0.09385521885521886, abs=1e-12)
    assert result.per_class[1] == pytest.approx(0.17045454545454547, abs=1e-12)
    assert result.per_class[2] == 0.0
    assert result.per_class[3] == pytest.approx(0.1111111111111111, abs=1e-12)
    assert result.categories['pose'] == pytest.approx(result.mAP)
    assert result.categories['person_object'] is None


# ---------------------------------------------------------------------------------------
# Official rules, one small hand-computed case each.
# ---------------------------------------------------------------------------------------

def test_only_top_50_rows_per_keyframe_count():
    gt = f'v,0902,{GT_BOX},1,0\n'
    det = det_rows('v,0902', FAR, 1, [0.9] * 50) + f'v,0902,{GT_BOX},1,0.1\n'
    assert score(gt, det).per_class[1] == 0.0  # the true positive is row 51
    assert score(gt, det, 'legacy').per_class[1] == pytest.approx(1 / 51)


def test_ties_at_the_cap_follow_the_reference_heap():
    # 49 high rows, then two rows tied at the 50th score: the heap is full when the second
    # arrives and a tie does not replace, so the one written first stays.
    head = det_rows('v,0902', FAR, 2, [0.9] * 49)
    tp, fp = f'v,0902,{GT_BOX},1,0.5\n', f'v,0902,{FAR},1,0.5\n'
    gt = f'v,0902,{GT_BOX},1,0\n'
    assert score(gt, head + tp + fp).per_class[1] == 1.0
    assert score(gt, head + fp + tp).per_class[1] == 0.0


def test_eviction_takes_the_smallest_tuple_score_then_label():
    # Full heap whose two lowest rows tie at 0.5 (labels 1 and 2); a higher row evicts
    # the smaller tuple (0.5, 1, ...), so label 1 loses its true positive, label 2 keeps it.
    gt = f'v,0902,{GT_BOX},1,0\nv,0902,{GT_BOX},2,1\n'
    det = (f'v,0902,{GT_BOX},2,0.5\n' + f'v,0902,{GT_BOX},1,0.5\n'
           + det_rows('v,0902', FAR, 2, [0.9] * 48) + f'v,0902,{FAR},2,0.95\n')
    result = score(gt, det)
    assert result.per_class[1] == 0.0
    assert result.per_class[2] > 0.0


def test_labels_outside_the_map_are_dropped_before_the_cap():
    gt = f'v,0902,{GT_BOX},1,0\n'
    det = det_rows('v,0902', FAR, 7, [0.9] * 60) + f'v,0902,{GT_BOX},1,0.1\n'
    result = score(gt, det)
    assert result.per_class[1] == 1.0
    assert result.counts['detections_out_of_map'] == 60


def test_keyframes_absent_from_groundtruth_are_ignored():
    gt = f'v,0902,{GT_BOX},1,0\nv,0903\n'
    tp = f'v,0902,{GT_BOX},1,0.5\n'
    absent = f'w,0902,{FAR},1,0.9\n'
    assert score(gt, tp + absent).per_class[1] == 1.0
    assert score(gt, tp + absent).counts['detections_not_in_groundtruth'] == 1
    # A 2-column row makes the keyframe part of the ground truth: its detection is false.
    assert score(gt, tp + f'v,0903,{FAR},1,0.9\n').per_class[1] == 0.5


def test_keys_compare_numerically():
    assert score(f'v,0902,{GT_BOX},1,0\n', f'v,902,{GT_BOX},1,0.5\n').per_class[1] == 1.0


def test_detections_are_matched_in_descending_score_order():
    gt = f'v,0902,{GT_BOX},1,0\n'
    low_tp_first = f'v,0902,{GT_BOX},1,0.3\nv,0902,0.1,0.1,0.5,0.45,1,0.8\n'
    # The 0.8 detection (IoU 0.875) is matched first and takes the box: TP, then FP.
    assert score(gt, low_tp_first).per_class[1] == 1.0


def test_a_detection_takes_the_highest_iou_box():
    # det1 overlaps A with IoU 0.6 and B with 0.9; det2 overlaps only B (0.75). Highest
    # IoU: det1 -> B, det2 -> B taken -> FP. First-above-threshold would give two TPs.
    gt = 'v,0902,0.0,0.0,0.6,1.0,1,1\nv,0902,0.3,0.0,1.0,1.0,1,0\n'
    det = 'v,0902,0.3,0.0,0.93,1.0,1,0.9\nv,0902,0.4,0.0,1.0,1.0,1,0.8\n'
    assert score(gt, det).per_class[1] == 0.5


def test_no_fallback_to_the_second_best_box():
    # det2's best box (B, IoU 0.95) is taken; it does not fall back to A (IoU 0.55).
    gt = 'v,0902,0.0,0.0,0.5,1.0,1,1\nv,0902,0.1,0.0,0.6,1.0,1,0\n'
    det = 'v,0902,0.1,0.0,0.6,1.0,1,0.9\nv,0902,0.1,0.0,0.575,1.0,1,0.8\n'
    assert score(gt, det).per_class[1] == 0.5


def test_iou_ties_go_to_the_first_box_in_reference_order():
    # x spans (binary fractions, so the IoUs tie exactly): A = [0, 0.5], B = [0.25, 0.75];
    # det1 = [0.125, 0.625] has IoU 0.6 with both; det2 = [0, 0.4375] has 0.875 with A and
    # 0.25 with B. Ground truth is ordered by descending person id: A first when A has the
    # higher id -> det1 takes A -> det2 is an FP; B first -> both are TPs.
    det = 'v,0902,0.125,0.0,0.625,1.0,1,0.9\nv,0902,0.0,0.0,0.4375,1.0,1,0.8\n'
    a_first = 'v,0902,0.0,0.0,0.5,1.0,1,5\nv,0902,0.25,0.0,0.75,1.0,1,3\n'
    b_first = 'v,0902,0.0,0.0,0.5,1.0,1,3\nv,0902,0.25,0.0,0.75,1.0,1,5\n'
    assert score(a_first, det).per_class[1] == 0.5
    assert score(b_first, det).per_class[1] == 1.0


def test_iou_uses_plain_areas_and_a_half_is_enough():
    gt = 'v,0902,0.0,0.0,0.5,1.0,1,0\n'
    assert score(gt, 'v,0902,0.0,0.0,1.0,1.0,1,0.9\n').per_class[1] == 1.0  # IoU = 0.5
    # With "+1" areas these tiny disjoint boxes would overlap at IoU 0.5.
    gt = 'v,0902,0.0,0.0,0.1,0.1,1,0\n'
    assert score(gt, 'v,0902,0.2,0.2,0.3,0.3,1,0.9\n').per_class[1] == 0.0


def test_boxes_without_area_are_dropped_after_the_cap():
    gt = f'v,0902,{GT_BOX},1,0\n'
    flat = det_rows('v,0902', '0.2,0.2,0.2,0.4', 1, [0.9])
    assert score(gt, flat + f'v,0902,{GT_BOX},1,0.5\n').per_class[1] == 1.0  # not an FP
    flat50 = det_rows('v,0902', '0.2,0.2,0.2,0.4', 1, [0.9] * 50)
    assert score(gt, flat50 + f'v,0902,{GT_BOX},1,0.5\n').per_class[1] == 0.0


def test_tied_scores_rank_by_first_appearance_and_reversed_argsort():
    # Same score in two keyframes: TP in v,0902 and FP in v,0903 (annotated, no box).
    # Scores concatenate in order of first appearance in the detections; np.argsort of
    # two equal values keeps them, reversed puts the later one first.
    gt = f'v,0902,{GT_BOX},1,0\nv,0903\n'
    tp, fp = f'v,0902,{GT_BOX},1,0.5\n', f'v,0903,{GT_BOX},1,0.5\n'
    assert score(gt, tp + fp).per_class[1] == 0.5  # FP ranked first
    assert score(gt, fp + tp).per_class[1] == 1.0  # TP ranked first


def test_precision_is_made_monotone_all_point_voc():
    # Ranked FP, TP, TP with 2 boxes: precision 0, 1/2, 2/3 at recall 0, 1/2, 1.
    # Monotone: 2/3 everywhere -> AP = 2/3 (raw precision would give 0.5833).
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([False, True, True]),
                             2) == pytest.approx(2 / 3)
    # 11-point interpolation would give 0.6667 * 11 / 11 as well; this one differs:
    # TP, FP, FP, TP with 2 boxes -> 1 * 0.5 + 0.5 * 0.5 = 0.75 (11-point: 0.7727).
    assert average_precision(np.array([4., 3., 2., 1.]), np.array([True, False, False, True]),
                             2) == pytest.approx(0.75)


def test_classes_without_groundtruth_are_left_out():
    gt = f'v,0902,{GT_BOX},1,0\n'
    det = f'v,0902,{GT_BOX},1,0.5\nv,0902,{GT_BOX},2,0.9\n'
    result = score(gt, det)
    assert result.per_class == {1: 1.0, 2: None}
    assert result.mAP == 1.0
    # A class with ground truth but no detection scores 0 and counts.
    result = score(gt + f'v,0902,{GT_BOX},2,0\n', f'v,0902,{GT_BOX},1,0.5\n')
    assert result.per_class == {1: 1.0, 2: 0.0} and result.mAP == 0.5


def test_excluded_keyframes_are_dropped_in_both_modes():
    gt = f'v,0902,{GT_BOX},1,0\nv,0903,{GT_BOX},1,0\n'
    det = f'v,0902,{GT_BOX},1,0.5\n'
    assert score(gt, det).per_class[1] == 0.5
    assert score(gt, det, excluded_keys=[('v', 903)]).per_class[1] == 1.0
    # mmaction2 still counts the excluded keyframe's ground truth.
    assert score(gt, det, 'legacy', excluded_keys=[('v', 903)]).per_class[1] == 0.5


def test_no_groundtruth_of_mapped_classes_is_an_error():
    with pytest.raises(ValueError, match='no ground-truth box'):
        score(f'v,0902,{GT_BOX},9,0\n', f'v,0902,{GT_BOX},1,0.5\n')


def test_category_summaries():
    labels = {1: 'pose', 20: 'object', 70: 'person'}
    gt = f'v,0902,{GT_BOX},1,0\nv,0902,{GT_BOX},20,0\nv,0902,{GT_BOX},70,0\n'
    det = f'v,0902,{GT_BOX},1,0.5\nv,0902,{FAR},70,0.5\n'
    result = score(gt, det, labels=labels)
    assert result.categories == {'pose': 1.0, 'person_object': 0.0, 'person_person': 0.0}
    assert result.mAP == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------------------
# Cross-checks on generated cases.
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('seed,decimals', [(0, 2), (1, 2), (2, 1), (3, 3), (4, 1)])
def test_legacy_equals_mmaction2_ava_eval(tmp_path, monkeypatch, seed, decimals):
    paths = make_case(tmp_path, seed, score_decimals=decimals)
    gt, det = read_groundtruth(paths['gt']), read_detections(paths['det'])
    labels = read_label_map(paths['labels'])
    for exclude in (True, False):
        reference, per_class = mmaction_legacy(paths, tmp_path, monkeypatch, exclude)
        ours = evaluate_frame_map(gt, det, labels, 'legacy',
                                  read_exclusions(paths['excl']) if exclude else ())
        assert ours.mAP == pytest.approx(reference['overall'], abs=1e-9)
        assert {c: ap for c, ap in ours.per_class.items() if ap is not None} == pytest.approx(
            {c: ap for c, ap in per_class.items() if not np.isnan(ap)}, abs=1e-9)
        assert ours.categories['pose'] == pytest.approx(reference['person_movement'], abs=1e-9)
    assert ours.counts['detections_out_of_map'] > 0
    assert ours.counts['detections_not_in_groundtruth'] > 0


@pytest.mark.parametrize('seed,decimals', [(10, 2), (11, 1), (12, 1), (13, 3)])
def test_official_equals_plain_reference_scorer(tmp_path, seed, decimals):
    paths = make_case(tmp_path, seed, score_decimals=decimals)
    ours = evaluate_frame_map(read_groundtruth(paths['gt']), read_detections(paths['det']),
                              read_label_map(paths['labels']), 'official')
    mean_ap, per_class = naive_official(paths['gt'], paths['det'], paths['labels'])
    assert ours.per_class == per_class  # bit for bit, ties included
    assert ours.mAP == pytest.approx(mean_ap, abs=1e-12)
    assert ours.counts['detections_beyond_top_k'] > 0


def test_in_memory_rows_score_exactly_as_their_csv(tmp_path):
    rng = np.random.default_rng(5)
    paths = make_case(tmp_path, 5)
    gt = read_groundtruth(paths['gt'])
    labels = read_label_map(paths['labels'])
    keys = gt.keys[:12] + [('elsewhere', 1000)]
    bboxes = [np.sort(rng.random((rng.integers(1, 4), 2, 2)), axis=1).reshape(-1, 4)[:, [0, 2, 1, 3]]
              for _ in keys]
    bboxes = [np.concatenate([gt.row_boxes(gt.key_index == i)[:1], b]) if i < 12 else b
              for i, b in enumerate(bboxes)]
    scores = [np.round(rng.random((len(b), 80)), 2) for b in bboxes]
    rows = rows_from_predictions(keys, bboxes, scores, class_ids=labels, box_decimals=4,
                                 score_decimals=6)
    assert len(rows) == sum(len(b) for b in bboxes) * len(labels)
    write_box_csv(tmp_path / 'pred.csv', rows)
    for mode in ('official', 'legacy'):
        in_memory = evaluate_frame_map(gt, rows, labels, mode)
        from_csv = evaluate_frame_map(gt, read_detections(tmp_path / 'pred.csv'), labels, mode)
        assert in_memory.per_class == from_csv.per_class
        assert in_memory.mAP == from_csv.mAP > 0


def test_no_detections_at_all_scores_zero():
    gt = read_groundtruth(FIXTURES + 'gt.csv')
    labels = read_label_map(FIXTURES + 'action_list.txt')
    nothing = rows_from_predictions([], [], [], class_ids=labels)
    assert evaluate_frame_map(gt, nothing, labels).per_class == {1: 0.0, 2: 0.0, 3: 0.0}
    assert evaluate_frame_map(gt, nothing, labels, 'legacy').mAP == 0.0


def test_official_with_seven_column_groundtruth(tmp_path):
    # Without person ids every ground-truth row scores 1.0, so the reference's heap order
    # decides the order of a class's boxes in a keyframe (replayed exactly).
    paths = make_case(tmp_path, 21, score_decimals=1)
    lines = paths['gt'].read_text().splitlines()
    paths['gt'].write_text(''.join(ln.rsplit(',', 1)[0] + '\n' if ln.count(',') == 7
                                   else ln + '\n' for ln in lines))
    gt = read_groundtruth(paths['gt'])
    assert set(gt.scores.tolist()) == {1.0}
    ours = evaluate_frame_map(gt, read_detections(paths['det']),
                              read_label_map(paths['labels']), 'official')
    mean_ap, per_class = naive_official(paths['gt'], paths['det'], paths['labels'])
    assert ours.per_class == per_class
