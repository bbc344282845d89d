"""Person recall/precision of detected boxes against ground truth."""
import numpy as np
import pytest

from videomae_det.evaluation.functional import box_iou_xyxy, person_recall


def test_iou():
    iou = box_iou_xyxy([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])


def test_recall_and_precision_at_a_threshold():
    gt = {'a': np.array([[0, 0, 10, 10], [20, 0, 30, 10]]), 'b': np.array([[0, 0, 10, 10]])}
    dets = {
        # a: one good box, a duplicate of it (a false positive: the truth is taken), one low
        'a': (np.array([[0, 0, 10, 10], [1, 0, 10, 10], [20, 0, 30, 10]]),
              np.array([0.9, 0.85, 0.3])),
        # b: a box at IoU 1/3 only; c: not in the truth, ignored
        'b': (np.array([[5, 0, 15, 10]]), np.array([0.95])),
        'c': (np.array([[0, 0, 5, 5]]), np.array([0.99])),
    }
    r = person_recall(gt, dets, score_threshold=0.8)
    assert (r['num_gt'], r['num_det'], r['true_positives']) == (3, 3, 1)
    assert r['recall'] == pytest.approx(1 / 3) and r['precision'] == pytest.approx(1 / 3)
    # a lower threshold lets the third box of 'a' in: it takes the second truth box
    r = person_recall(gt, dets, score_threshold=0.2)
    assert r['true_positives'] == 2 and r['recall'] == pytest.approx(2 / 3)
    assert person_recall(gt, {}, 0.5) == dict(recall=0.0, precision=0.0, num_gt=3, num_det=0,
                                              true_positives=0, keyframes=2)
