"""Sequential decoding and the keyframe schedule."""
import numpy as np
import pytest

from videomae_det.apis.video_stream import (VideoStream, clip_frame_indices,
                                            keyframe_schedule)
from videomae_det.datasets.video_io import VideoDecodeError, VideoNotFoundError
from videomae_det.visualization.synthetic import person_tracks, render_frame, write_synthetic_video

SIZE = (96, 64)


def test_clip_indices_match_training_at_25_fps():
    # 16 frames 4 apart, centred as in training: keyframe - 32 ... keyframe + 28
    idx = clip_frame_indices(time=4.0, fps=25, num_frames=1000, clip_len=16, frame_interval=4)
    assert idx.tolist() == list(range(100 - 32, 100 + 29, 4))


def test_clip_indices_resampled_by_time_at_30_fps():
    idx = clip_frame_indices(time=4.0, fps=30, num_frames=1000, clip_len=16, frame_interval=4)
    # the same seconds as at 25 fps: steps of 0.16 s -> 4.8 frames, rounded
    expected = np.floor((4.0 + (np.arange(16) - 8) * 0.16) * 30 + 0.5)
    assert idx.tolist() == expected.astype(int).tolist()
    assert (idx[-1] - idx[0]) / 30 == pytest.approx(15 * 0.16, abs=1 / 30)


def test_clip_indices_clamped_at_both_ends():
    idx = clip_frame_indices(time=0.0, fps=25, num_frames=20, clip_len=16, frame_interval=4)
    assert idx.min() == 0 and idx.max() == 19
    assert idx[:9].tolist() == [0] * 9  # steps before the start repeat frame 0


def test_keyframe_schedule_every_interval_inside_the_video():
    sched = keyframe_schedule(num_frames=75, fps=25, interval=1.0, clip_len=4, frame_interval=2)
    assert [k.frame_index for k in sched] == [0, 25, 50]
    assert [k.time for k in sched] == [0.0, 1.0, 2.0]
    assert sched[1].clip_indices.tolist() == [21, 23, 25, 27]
    assert sched[2].last_frame == 52
    half = keyframe_schedule(num_frames=30, fps=30, interval=0.5, clip_len=2, frame_interval=1)
    assert [k.frame_index for k in half] == [0, 15]
    with pytest.raises(ValueError, match='interval'):
        keyframe_schedule(10, 25, 0, 4, 2)


@pytest.mark.parametrize('ext', ['.mp4', '.avi', '.mkv'])
def test_stream_reads_every_frame_in_order(tmp_path, ext):
    path = tmp_path / f'v{ext}'
    write_synthetic_video(path, num_frames=12, fps=30, size=SIZE, num_people=1)
    stream = VideoStream(path)
    assert (stream.num_frames, stream.width, stream.height) == (12, *SIZE)
    assert stream.fps == pytest.approx(30)
    tracks = person_tracks(12, SIZE, 1)
    rendered = np.stack([render_frame(i, tracks, SIZE)[0] for i in range(12)]).astype(np.float32)
    indices = []
    for index, frame in stream:
        assert frame.shape == (SIZE[1], SIZE[0], 3) and frame.dtype == np.uint8
        # RGB and in order: the closest rendered frame is the one with this index
        err = np.abs(rendered - frame.astype(np.float32)).mean(axis=(1, 2, 3))
        assert int(err.argmin()) == index
        indices.append(index)
    assert indices == list(range(12))


def test_truncated_video_raises_after_the_decoded_frames(tmp_path):
    path = tmp_path / 'v.mkv'
    write_synthetic_video(path, num_frames=40, fps=25, size=SIZE, num_people=1)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    stream = VideoStream(path)
    seen = []
    with pytest.raises(VideoDecodeError) as info:
        for index, _ in stream:
            seen.append(index)
    assert 0 < len(seen) < 40 and seen == list(range(len(seen)))
    assert str(path) in str(info.value)
    assert f'frame {len(seen)} of 40' in str(info.value)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(VideoNotFoundError):
        VideoStream(tmp_path / 'absent.mp4')
    junk = tmp_path / 'junk.mp4'
    junk.write_bytes(b'not a video' * 100)
    with pytest.raises(VideoDecodeError, match='junk.mp4'):
        VideoStream(junk)
