"""Action segments from tracks: runs of keyframes, files (JSON/CSV/SRT/PNG)."""
import csv
import json

import numpy as np
import pytest

from videomae_det.tracking import (Segment, runs_to_segments, temporal_iou, track_segments,
                                   write_segments, write_srt, write_timeline)
from videomae_det.tracking.segments import srt_text


def test_runs_become_segments_half_an_interval_around_their_keyframes():
    times = [0, 1, 2, 3, 4, 5, 6]
    scores = [0.9, 0.8, 0.2, 0.6, 0.7, 0.9, 0.1]
    segs = runs_to_segments(3, 14, times, scores, threshold=0.5, interval=1.0)
    assert [(s.start_s, s.end_s) for s in segs] == [(0.0, 1.5), (2.5, 5.5)]
    assert segs[0].mean_score == pytest.approx(0.85) and segs[0].peak_score == 0.9
    assert segs[1].mean_score == pytest.approx(0.7333, abs=1e-4) and segs[1].peak_score == 0.9
    assert all(s.track == 3 and s.action == 14 for s in segs)
    # minimum length drops the short one; a gap in the track (lost 2 s) breaks a run
    assert len(runs_to_segments(3, 14, times, scores, 0.5, 1.0, min_length=2.0)) == 1
    gap = runs_to_segments(1, 14, [0, 1, 4, 5], [0.9] * 4, 0.5, 1.0)
    assert [(s.start_s, s.end_s) for s in gap] == [(0.0, 1.5), (3.5, 5.5)]


def test_track_segments_per_track_and_action():
    scores = np.zeros((4, 80))
    scores[:, 11] = [0.9, 0.9, 0.9, 0.9]  # stand (id 12) throughout
    scores[2:, 13] = 0.8  # walk (id 14) from 2 s
    segs = track_segments({7: ([10, 11, 12, 13], scores)}, [12, 14], 0.5, 1.0,
                          names={12: 'stand', 14: 'walk'})
    assert [(s.track, s.name, s.start_s, s.end_s) for s in segs] == [
        (7, 'stand', 9.5, 13.5), (7, 'walk', 11.5, 13.5)]


def test_temporal_iou():
    assert temporal_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert temporal_iou((0, 1), (2, 3)) == 0
    assert temporal_iou((1, 2), (1, 2)) == 1


SEGS = [Segment(1, 14, 0.5, 3.5, 0.81, 0.93, 'walk'), Segment(2, 12, 1.5, 2.5, 0.6, 0.6, 'stand'),
        Segment(1, 69, 62.25, 3725.0, 0.5, 0.7, '')]


def test_segment_files(tmp_path):
    write_segments(tmp_path / 's.json', SEGS, dict(video_id='v'))
    data = json.loads((tmp_path / 's.json').read_text())
    assert data['meta'] == {'video_id': 'v'}
    assert data['segments'][0] == dict(track=1, action=14, start_s=0.5, end_s=3.5,
                                       mean_score=0.81, peak_score=0.93, name='walk')
    write_segments(tmp_path / 's.csv', SEGS)
    rows = list(csv.DictReader((tmp_path / 's.csv').open()))
    assert list(rows[0])[:6] == ['track', 'action', 'start_s', 'end_s', 'mean_score',
                                 'peak_score']
    assert rows[1]['track'] == '2' and rows[1]['start_s'] == '1.500'
    with pytest.raises(ValueError, match='json or .csv'):
        write_segments(tmp_path / 's.txt', SEGS)


def test_srt_cues_in_time_order_with_video_time():
    text = srt_text(SEGS, time_offset=0.5)
    cues = text.strip().split('\n\n')
    assert cues[0] == '1\n00:00:00,000 --> 00:00:03,000\n#1 walk 0.93'
    assert cues[1] == '2\n00:00:01,000 --> 00:00:02,000\n#2 stand 0.60'
    assert cues[2] == '3\n00:01:01,750 --> 01:02:04,500\n#1 action 69 0.70'


def test_timeline_png(tmp_path):
    import matplotlib.image as mpimg
    write_timeline(tmp_path / 't.png', SEGS[:2], duration=4.0, title='x')
    img = mpimg.imread(tmp_path / 't.png')
    assert img.shape[1] > 500 and img.shape[0] > 100
    # the two actions' colours are on it (tab20 blue for walk, the first action)
    blue = np.array([0.12, 0.47, 0.71])
    assert (np.abs(img[..., :3] - blue).max(-1) < 0.02).sum() > 200
