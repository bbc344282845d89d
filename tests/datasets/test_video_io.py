"""video_io: frame-exact random access on the H.264 files our tools write; clear errors."""
import numpy as np
import pytest

from videomae_det.datasets.video_io import (VideoDecodeError, VideoNotFoundError, read_frames,
                                            video_info, write_video)


def _coded_frames(n, h=64, w=96):
    """Frame i shows the bits of i as 6 black/white bars, robust to compression."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    bar = w // 6
    for i in range(n):
        for b in range(6):
            if (i >> b) & 1:
                frames[i, :, b * bar:(b + 1) * bar] = 255
    return frames


def _decode_index(frame):
    bar = frame.shape[1] // 6
    mid = frame.shape[0] // 2
    return sum(int(frame[mid, b * bar + bar // 2, 0] > 127) << b for b in range(6))


@pytest.fixture(scope='module')
def coded_video(tmp_path_factory):
    path = tmp_path_factory.mktemp('vio') / 'coded.mp4'
    write_video(path, _coded_frames(60), fps=25)
    return path


def test_video_info(coded_video):
    info = video_info(coded_video)
    assert info == (60, 25.0, 64, 96)


def test_read_frames_is_frame_exact_in_any_order(coded_video):
    rng = np.random.RandomState(0)
    for _ in range(5):
        idx = rng.randint(0, 60, size=12).tolist()
        frames = read_frames(coded_video, idx)
        assert frames.shape == (12, 64, 96, 3) and frames.dtype == np.uint8
        assert [_decode_index(f) for f in frames] == idx


def test_missing_file_names_path(tmp_path):
    path = tmp_path / 'nope.mp4'
    with pytest.raises(VideoNotFoundError, match='nope.mp4'):
        read_frames(path, [0])
    with pytest.raises(FileNotFoundError):
        video_info(path)


def test_corrupt_and_truncated_files(tmp_path, coded_video):
    garbage = tmp_path / 'garbage.mp4'
    garbage.write_bytes(b'not a video at all' * 100)
    with pytest.raises(VideoDecodeError, match='garbage.mp4'):
        video_info(garbage)
    data = coded_video.read_bytes()
    trunc = tmp_path / 'trunc.mp4'
    trunc.write_bytes(data[:len(data) // 2])
    with pytest.raises(VideoDecodeError, match='trunc.mp4'):
        read_frames(trunc, list(range(60)))


def test_index_out_of_range(coded_video):
    with pytest.raises(VideoDecodeError, match='frame index 60'):
        read_frames(coded_video, [0, 60])
