"""The tracking metrics' wiring (motmetrics) and segment quality where the answer is exact."""
import numpy as np
import pytest

from videomae_det.tracking.evaluation import (MovieKeyframes, identity_map, mot_metrics,
                                              segment_quality, true_segments)
from videomae_det.tracking.segments import Segment

pytest.importorskip('motmetrics')

A = np.array([10., 10., 30., 60.])
B = np.array([60., 10., 80., 60.])


def _movie(n=6):
    gt = [(np.array([1, 2]), np.stack([A, B]), [[12], [14] if k >= 3 else [12]])
          for k in range(n)]
    return MovieKeyframes('m', [float(k) for k in range(n)], gt,
                          [(np.stack([A, B]), np.array([0.9, 0.9])) for _ in range(n)])


def test_true_ids_score_perfectly_and_a_swap_counts_two_switches():
    movie = _movie()
    perfect = [np.array([7, 8])] * 6
    o = mot_metrics([movie], [perfect])['OVERALL']
    assert (o['idf1'], o['mota'], o['num_switches']) == (1.0, 1.0, 0)
    swapped = [np.array([7, 8])] * 3 + [np.array([8, 7])] * 3
    o = mot_metrics([movie], [swapped])['OVERALL']
    assert o['num_switches'] == 2 and o['idf1'] == pytest.approx(0.5)
    assert o['mota'] == pytest.approx(1 - 2 / 12, abs=1e-4)
    unmatched = [np.array([7, -1])] * 6  # -1: not output
    o = mot_metrics([movie], [unmatched])['OVERALL']
    assert o['num_misses'] == 6 and o['mota'] == pytest.approx(0.5)


def test_identity_map_and_segment_quality():
    movie = _movie()
    ids = [np.array([7, 8])] * 6
    assert identity_map(movie, ids) == {7: 1, 8: 2}
    truth = true_segments(movie, [12, 14], 1.0)
    assert [(s.track, s.action, s.start_s, s.end_s) for s in truth] == [
        (1, 12, 0.0, 5.5), (2, 12, 0.0, 2.5), (2, 14, 2.5, 5.5)]
    pred = [Segment(7, 12, 0.0, 5.5, 1, 1), Segment(8, 12, 0.0, 1.5, 1, 1),
            Segment(8, 14, 2.5, 5.5, 1, 1), Segment(8, 69, 0, 1, 1, 1)]
    q = segment_quality({'m': pred}, {'m': truth}, {'m': identity_map(movie, ids)})
    assert q['true_segments'] == 3 and q['predicted_segments'] == 4
    assert q['mean_tiou'] == pytest.approx((1 + 0.6 + 1) / 3, abs=1e-4)
    assert q['recall_at_05'] == 1.0 and q['precision_at_05'] == 0.75
