"""The streaming H.264 writer: exact frame count and size, atomic rename."""
import cv2
import numpy as np
import pytest

from videomae_det.visualization import StreamingVideoWriter


def _read_back(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f[..., ::-1])
    return cap.get(cv2.CAP_PROP_FPS), np.stack(frames)


@pytest.mark.parametrize('size,ext', [((160, 120), '.mp4'), ((161, 121), '.mkv')])
def test_every_frame_written_at_the_given_size(tmp_path, size, ext):
    path = tmp_path / f'out{ext}'
    rng = np.random.default_rng(0)
    frames = [np.full((size[1], size[0], 3), v, np.uint8) for v in rng.integers(0, 255, 17)]
    with StreamingVideoWriter(path, 29.97, size) as w:
        for f in frames:
            w.write(f)
    assert w.num_frames == 17 and not w.tmp.exists()
    fps, back = _read_back(path)
    assert fps == pytest.approx(29.97, abs=0.01)
    assert back.shape == (17, size[1], size[0], 3)
    # flat grey frames survive H.264 within a few levels, in order
    np.testing.assert_allclose(back.mean(axis=(1, 2, 3)), [f.mean() for f in frames], atol=3)


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'out.mp4'
    path.write_bytes(b'old')
    with pytest.raises(RuntimeError, match='boom'):
        with StreamingVideoWriter(path, 25, (32, 32)) as w:
            w.write(np.zeros((32, 32, 3), np.uint8))
            raise RuntimeError('boom')
    assert path.read_bytes() == b'old' and not w.tmp.exists()
    w2 = StreamingVideoWriter(tmp_path / 'b.mp4', 25, (32, 32))
    with pytest.raises(ValueError, match='expected a uint8'):
        w2.write(np.zeros((16, 32, 3), np.uint8))
    w2.abort()
    assert not (tmp_path / 'b.mp4').exists()
