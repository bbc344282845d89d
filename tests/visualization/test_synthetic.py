"""Synthetic walking-people videos used by inference tests and the benchmark."""
import cv2
import numpy as np
import pytest

from videomae_det.visualization.synthetic import person_tracks, write_synthetic_video


def test_tracks_stay_inside_and_move():
    tracks = person_tracks(200, (640, 360), num_people=3, seed=1)
    assert tracks.shape == (200, 3, 3)
    assert tracks[..., 0].min() >= 0.14 * 640 and tracks[..., 0].max() <= 0.86 * 640
    assert np.abs(np.diff(tracks[..., 0], axis=0)).max() > 0  # they walk


@pytest.mark.parametrize('ext', ['.mp4', '.avi', '.mkv'])
def test_written_video_has_the_frames_and_boxes(tmp_path, ext):
    path = tmp_path / f's{ext}'
    boxes = write_synthetic_video(path, 10, 25, (96, 64), num_people=2)
    assert boxes.shape == (10, 2, 4)
    assert (boxes[..., 2] > boxes[..., 0]).all() and (boxes[..., 3] > boxes[..., 1]).all()
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == \
        (96, 64)
    with pytest.raises(ValueError, match='choose one of'):
        write_synthetic_video(tmp_path / 's.webm', 2)
