"""ByteTrack-style keyframe tracker: ids stay with people through crossings, fast motion,
gaps and low-score boxes; new tracks only from confident boxes."""
import numpy as np
import pytest

from videomae_det.tracking import ByteTrackConfig, KeyframeTracker, TrackScoreSmoother, box_iou


def _box(cx, cy=60.0, w=20.0, h=50.0):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def test_box_iou_plain_areas():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0]])


def test_two_people_crossing_keep_their_ids():
    """A walks right, B (nearer the camera, larger) walks left; they pass each other with
    their boxes overlapping. The boxes come in a shuffled order each keyframe; ids must
    follow the motion, not the order."""
    tracker = KeyframeTracker()
    rng = np.random.default_rng(0)
    history = {}
    for k in range(9):
        a, b = _box(20 + 15 * k), _box(140 - 15 * k, cy=68, w=26, h=64)
        boxes = np.array([a, b])
        order = rng.permutation(2)
        ids = tracker.update(boxes[order], np.array([0.9, 0.9]), float(k))
        for who, i in zip(order, ids):
            history.setdefault(who, set()).add(int(i))
    assert history[0] != history[1]
    assert len(history[0]) == 1 and len(history[1]) == 1


def test_a_runner_is_followed_by_its_velocity():
    """A person speeds up to a run: plain IoU of consecutive boxes is 0 from the third
    keyframe on; the smoothed-velocity prediction keeps one id."""
    xs = [10, 25, 50, 85, 130, 180]  # steps of 0.75 to 2.5 box widths
    tracker = KeyframeTracker()
    ids = [tracker.update(np.array([_box(x)]), np.array([0.95]), float(k))[0]
           for k, x in enumerate(xs)]
    assert box_iou(np.array([_box(85)]), np.array([_box(130)]))[0, 0] == 0
    assert len(set(ids)) == 1
    # without a velocity (a track standing still) the same jump starts a new track
    still = KeyframeTracker()
    ids = [still.update(np.array([_box(x)]), np.array([0.95]), float(k))[0]
           for k, x in enumerate([20, 20, 20, 65])]
    assert ids[-1] != ids[0]


def test_a_lost_track_is_picked_up_again_within_max_lost():
    cfg = ByteTrackConfig(max_lost_s=3.0)
    tracker = KeyframeTracker(cfg)
    first = tracker.update(np.array([_box(50)]), np.array([0.9]), 0.0)[0]
    tracker.update(np.zeros((0, 4)), np.zeros(0), 1.0)  # occluded / cut-away
    tracker.update(np.zeros((0, 4)), np.zeros(0), 2.0)
    assert tracker.update(np.array([_box(52)]), np.array([0.9]), 3.0)[0] == first
    # gone longer than max_lost_s: a new id
    assert tracker.update(np.array([_box(52)]), np.array([0.9]), 7.5)[0] != first


def test_low_score_boxes_extend_tracks_but_never_start_them():
    tracker = KeyframeTracker()
    tid = tracker.update(np.array([_box(50)]), np.array([0.9]), 0.0)[0]
    # the person is half hidden: score 0.3 -> second-stage match keeps the id
    ids = tracker.update(np.array([_box(52), _box(130)]), np.array([0.3, 0.3]), 1.0)
    assert ids[0] == tid and ids[1] == -1  # a low-score box elsewhere starts nothing
    # below low_score: ignored altogether
    assert tracker.update(np.array([_box(53)]), np.array([0.05]), 2.0)[0] == -1


def test_single_keyframe_tracks_are_not_confirmed():
    tracker = KeyframeTracker(ByteTrackConfig(min_hits=2))
    a = tracker.update(np.array([_box(30), _box(120)]), np.array([0.9, 0.9]), 0.0)
    tracker.update(np.array([_box(31)]), np.array([0.9]), 1.0)
    assert tracker.confirmed_ids() == {int(a[0])}


def test_bad_input_is_refused():
    tracker = KeyframeTracker()
    with pytest.raises(ValueError, match='2 boxes but 1 scores'):
        tracker.update(np.array([_box(1), _box(2)]), np.array([0.9]), 0.0)
    tracker.update(np.array([_box(1)]), np.array([0.9]), 5.0)
    with pytest.raises(ValueError, match='time order'):
        tracker.update(np.array([_box(1)]), np.array([0.9]), 4.0)


def test_score_smoothing_is_a_per_track_running_mean():
    smoother = TrackScoreSmoother(window=2)
    out1 = smoother.update(np.array([1, 2, -1]), np.array([[1.0], [0.0], [0.5]]))
    out2 = smoother.update(np.array([2, 1, -1]), np.array([[1.0], [0.0], [0.7]]))
    np.testing.assert_allclose(out1[:, 0], [1.0, 0.0, 0.5])
    np.testing.assert_allclose(out2[:, 0], [0.5, 0.5, 0.7])  # untracked box: raw
    out3 = smoother.update(np.array([1]), np.array([[0.0]]))
    np.testing.assert_allclose(out3[:, 0], [0.0])  # window 2: (0 + 0) / 2
    raw = TrackScoreSmoother(window=0).update(np.array([1]), np.array([[0.3]]))
    np.testing.assert_allclose(raw, [[0.3]])
