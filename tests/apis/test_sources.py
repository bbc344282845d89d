"""Frame sources: folders of frames, live streams (an MJPEG server on 127.0.0.1), the
drop-oldest realtime buffer, and detect_video's realtime mode on a live stream."""
import threading
import time

import cv2
import numpy as np
import pytest

from videomae_det.apis import detect_video, init_detector
from videomae_det.apis.inference import StreamStats
from videomae_det.apis.sources import (CaptureSource, FileSource, FrameFolderSource,
                                       LatestFrames, open_source)
from videomae_det.datasets.video_io import VideoDecodeError, VideoNotFoundError


def _index_of(frame) -> int:
    return int(round((float(frame.mean()) - 10) / 3))


def test_folder_of_frames_in_natural_order_at_the_given_rate(tmp_path, live_stream):
    grey_frames = live_stream[1]
    frames = grey_frames(12)
    for i, f in enumerate(frames):  # img_2 must come before img_10
        cv2.imwrite(str(tmp_path / f'img_{i}.png'), f)
    (tmp_path / 'notes.txt').write_text('not a frame')
    source = open_source(str(tmp_path), fps=4)
    assert isinstance(source, FrameFolderSource) and source.video_id == tmp_path.name
    got = list(source.timed_frames())
    assert [i for i, _, _ in got] == list(range(12))
    assert [_index_of(f) for _, _, f in got] == list(range(12))
    assert [t for _, t, _ in got] == pytest.approx(np.arange(12) / 4)
    with pytest.raises(ValueError, match='--fps'):
        open_source(str(tmp_path))


def test_bad_folders_and_sources_are_named(tmp_path, live_stream):
    grey_frames = live_stream[1]
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(VideoDecodeError, match='empty.*no image files'):
        open_source(str(empty), fps=25)
    bad = tmp_path / 'bad'
    bad.mkdir()
    cv2.imwrite(str(bad / '0.png'), grey_frames(1)[0])
    (bad / '1.png').write_bytes(b'not a png')
    with pytest.raises(VideoDecodeError, match=r'1\.png.*frame 1'):
        list(open_source(str(bad), fps=25).timed_frames())
    with pytest.raises(VideoNotFoundError):
        open_source(str(tmp_path / 'absent.mp4'))
    with pytest.raises(VideoDecodeError, match="scheme 'ftp'"):
        open_source('ftp://example.com/x.mp4')
    with pytest.raises(VideoDecodeError, match='http://127.0.0.1:9/none.*cannot open'):
        open_source('http://127.0.0.1:9/none.mjpg')  # nothing listens on port 9


def test_an_mjpeg_http_stream_is_read_live(live_stream):
    MJPEGStream, grey_frames = live_stream
    with MJPEGStream(grey_frames(30), fps=25) as stream:
        source = open_source(stream.url)
        assert isinstance(source, CaptureSource) and source.live
        assert source.video_id == 'live' and (source.width, source.height) == (80, 64)
        got = list(source.timed_frames())
    assert [_index_of(f) for _, _, f in got] == list(range(30))
    times = np.array([t for _, t, _ in got])
    assert times[0] == 0 and np.all(np.diff(times) > 0)
    # wall-clock times follow the server's pace (30 frames at 25 fps: ~1.2 s)
    assert 0.8 < times[-1] < 3.0


class _Burst:
    """A source that produces ``n`` frames as fast as it can."""
    live = True

    def __init__(self, n):
        self.n = n

    def timed_frames(self):
        for i in range(self.n):
            yield i, i / 25, np.full((2, 2, 3), i % 256, np.uint8)


def test_latest_frames_drops_the_oldest_when_the_reader_falls_behind():
    reader = LatestFrames(_Burst(200), maxsize=3)
    got = []
    for index, _, _ in reader:
        got.append(index)
        time.sleep(0.002)
    reader.close()
    assert reader.read == 200 and reader.dropped > 0
    assert len(got) + reader.dropped == 200
    assert got == sorted(got) and got[-1] == 199  # in order, and the newest always arrives


def test_file_source_is_not_live(tmp_path):
    from videomae_det.visualization.synthetic import write_synthetic_video
    write_synthetic_video(tmp_path / 'v.avi', num_frames=5, fps=25, size=(64, 48), num_people=1)
    source = open_source(str(tmp_path / 'v.avi'))
    assert isinstance(source, FileSource) and not source.live and source.video_id == 'v'


@pytest.fixture(scope='module')
def model(tiny_config, tiny_checkpoint):
    return init_detector(tiny_config, tiny_checkpoint)


def _one_person(frame, video_id, timestamp):
    return np.array([[10., 10., 50., 60.]], np.float32), np.array([0.9], np.float32)


@pytest.mark.parametrize('realtime', [False, True])
def test_detect_video_on_a_live_stream(model, realtime, live_stream):
    """A slow consumer (0.4 s per keyframe, keyframes every 0.2 s of a 3 s stream): without
    realtime every keyframe is processed and the backlog (latency) grows; with it keyframes
    are skipped instead, on the wall-clock schedule."""
    MJPEGStream, grey_frames = live_stream
    stats = StreamStats()
    with MJPEGStream(grey_frames(75), fps=25) as stream:
        results = []
        for r in detect_video(model, stream.url, _one_person, keyframe_interval=0.2,
                              realtime=realtime, max_pending=1, stats=stats, with_frames=True):
            results.append(r)
            time.sleep(0.4)
    summary = stats.summary()
    assert summary['realtime'] is realtime and summary['source'] == 'stream'
    assert summary['frames_read'] == 75
    ks = [r.keyframe_index for r in results]
    assert ks == sorted(set(ks))
    assert [r.timestamp for r in results] == pytest.approx([0.2 * k for k in ks])
    # 3 s of stream at 5 keyframes/s: each keyframe is either processed or skipped
    assert 14 <= len(ks) + stats.keyframes_dropped <= 17
    # every frame read is shown once, with the latest processed keyframe
    shown = [_index_of(f) for r in results for _, f in r.frames]
    assert shown == sorted(shown) and len(shown) + stats.frames_dropped == 75
    if not realtime:
        assert ks == list(range(len(ks))) and stats.keyframes_dropped == 0
        assert shown == list(range(75)) and stats.frames_dropped == 0
        # the last keyframe (~2.8 s) waits behind ~14 × 0.4 s of the consumer's time
        assert summary['latency_max_s'] > 2.0
    else:
        # the consumer can take at most one keyframe per 0.4 s: the rest are skipped
        assert stats.keyframes_dropped > 0 and len(ks) < 14
