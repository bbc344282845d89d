"""Sequential decoding and the keyframe schedule."""
import numpy as np
import pytest

from videomae_det.apis.video_stream import (VideoStream, clip_frame_indices,
                                            keyframe_schedule, schedule_for_times)
from videomae_det.datasets.video_io import VideoDecodeError, VideoNotFoundError
from videomae_det.visualization.synthetic import person_tracks, render_frame, write_synthetic_video

SIZE = (96, 64)


def test_clip_indices_match_training_at_25_fps():
    # 16 frames 4 apart, centred as in training: keyframe - 32 ... keyframe + 28
    idx = clip_frame_indices(time=4.0, fps=25, num_frames=1000, clip_len=16, frame_interval=4)
    assert idx.tolist() == list(range(100 - 32, 100 + 29, 4))


def test_sample_offset_shifts_every_clip_frame_like_vads_temporal_crop():
    """VideoMAE-Action-Detection takes frames 1, 5, ..., 61 of the 64 around the keyframe
    (its TemporalCrop starts at (rate - 1) // 2): one 25 fps frame later than ours."""
    from videomae_det.apis.video_stream import keyframe_schedule
    ours = keyframe_schedule(250, 25, 1.0, 16, 4)
    vad = keyframe_schedule(250, 25, 1.0, 16, 4, sample_offset=0.04)
    assert [k.time for k in ours] == [k.time for k in vad]
    k = [k for k in vad if k.time == 4.0][0]
    assert list(k.clip_indices) == list(range(100 - 31, 100 + 30, 4))


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


# a variable-frame-rate recording: 1 s at 25 fps, 2 s at 10 fps, 1 s at 30 fps
VFR_TIMES = np.r_[np.arange(25) * 0.04, 1.0 + np.arange(20) * 0.1, 3.0 + np.arange(30) / 30]


def _gray_frames(n, size=(64, 48)):
    """Flat frames whose grey level tells their index (3 × index + 10, survives H.264)."""
    return np.stack([np.full((size[1], size[0], 3), 3 * i + 10, np.uint8) for i in range(n)])


def _index_of(frame) -> int:
    return int(round((float(frame.mean()) - 10) / 3))


@pytest.mark.parametrize('ext', ['.mp4', '.mkv'])
def test_variable_frame_rate_video_gives_container_timestamps(tmp_path, ext):
    from videomae_det.visualization.synthetic import write_vfr_video
    path = tmp_path / f'vfr{ext}'
    write_vfr_video(path, _gray_frames(len(VFR_TIMES)), VFR_TIMES)
    stream = VideoStream(path)
    # the container's average rate is no use for placing frames in time
    assert not np.allclose(np.arange(len(VFR_TIMES)) / stream.fps, VFR_TIMES, atol=0.05)
    seen = list(stream.timed_frames())  # all of it, no 'truncated' error from the estimate
    assert [i for i, _, _ in seen] == list(range(len(VFR_TIMES)))
    assert [_index_of(f) for _, _, f in seen] == list(range(len(VFR_TIMES)))
    np.testing.assert_allclose([t for _, t, _ in seen], VFR_TIMES, atol=1e-3)


def test_scheduler_places_keyframes_and_clips_by_timestamp():
    sched = schedule_for_times(VFR_TIMES, interval=1.0, clip_len=4, frame_interval=5)
    # keyframes at 0, 1, 2, 3 s sit on the frames stamped 0, 1, 2, 3 s ...
    # (the 4 s keyframe is more than half a frame gap after the last frame, 3.967 s)
    assert [k.frame_index for k in sched] == [0, 25, 35, 45]
    assert [k.frame_time for k in sched] == pytest.approx([0, 1, 2, 3])
    # ... where frame counting at the average rate (75 frames / 4 s) would put 2 s on
    # frame 38, stamped 2.3 s: the bug this guards against
    # clip of 2 s: sampling times 1.6, 1.8, 2.0, 2.2 s -> frames stamped 1.6, 1.8, 2.0, 2.2
    assert sched[2].clip_indices.tolist() == [31, 33, 35, 37]
    # clip of 3 s: 2.6 and 2.8 s at 10 fps, 3.0 and 3.2 s at 30 fps (3.2 s -> frame 3.2)
    assert sched[3].clip_indices.tolist() == [41, 43, 45, 51]
    # a keyframe after the last frame but nearer it than half the last gap is kept, its
    # clip clamped to the last frame
    near_end = schedule_for_times(np.r_[VFR_TIMES, 4.0 - 0.01], 1.0, 4, 5)[-1]
    assert near_end.time == 4.0 and near_end.clip_indices.tolist() == [63, 69, 75, 75]
    # nearest timestamp: frames 0.07 s apart; 1 s takes 0.98 s (frame 14) over 1.05 s
    one = schedule_for_times(np.arange(20) * 0.07, 1.0, clip_len=3, frame_interval=1)[1]
    assert one.frame_index == 14 and one.frame_time == pytest.approx(0.98)
    assert one.clip_indices.tolist() == [14, 14, 15]  # 0.96 -> 0.98, 1.0 -> 0.98, 1.04 -> 1.05
    # a tie (0.96 / 1.04 s around 1 s) goes to the later frame, as the dataset rounds
    tie = schedule_for_times(np.arange(20) * 0.08, 1.0, clip_len=1, frame_interval=1)[1]
    assert tie.frame_index == 13


def test_scheduler_keeps_a_clip_span_of_frames_and_can_refuse_keyframes():
    from videomae_det.apis.video_stream import ClipScheduler
    placed = []
    sched = ClipScheduler(1.0, clip_len=4, frame_interval=4, sample_fps=25,
                          accept=lambda kf: kf.index % 2 == 0)
    sched.on_place = lambda kf, ok: placed.append((kf.index, ok))
    ready, most = [], 0
    for i in range(250):  # 10 s at 25 fps
        frame = np.full((2, 2, 3), i % 256, np.uint8)
        ready += sched.push(i, i / 25, frame)
        most = max(most, sched.buffered)
    ready += sched.finish()
    assert [k.index for k in ready] == [0, 2, 4, 6, 8]
    assert placed == [(k, k % 2 == 0) for k in range(10)]
    # the clip spans 12 frames; never more than a clip span and a frame are held
    assert most <= 14
    for kf in ready:
        assert kf.clip.shape == (4, 2, 2, 3)
        assert kf.clip[:, 0, 0, 0].tolist() == [i % 256 for i in kf.clip_indices]
        assert int(kf.image[0, 0, 0]) == kf.frame_index % 256
    with pytest.raises(ValueError, match='frame 3.*increase'):
        s = ClipScheduler(1.0, 2, 1)
        s.push(2, 0.5)
        s.push(3, 0.5)
