"""cut_clips on a generated raw movie: 1-second 25 fps clips at the right times, short side
bounded, resumable (only missing or broken clips are redone)."""
import numpy as np
import pytest

from videomae_det.datasets.video_io import read_frames, video_info, write_video

MOVIE = '-rawMovie_1'


def _code(n):
    frame = np.zeros((72, 128, 3), np.uint8)
    for b in range(8):
        if (n >> b) & 1:
            frame[:, b * 16:(b + 1) * 16] = 255
    return frame


@pytest.fixture(scope='module')
def raw_dir(tmp_path_factory):
    raw = tmp_path_factory.mktemp('raw')
    # a 7-second 30 fps "movie": frame n shows n; movie time = seconds from the file start
    write_video(raw / f'{MOVIE}.mp4', np.stack([_code(n) for n in range(7 * 30)]), fps=30)
    (raw / 'notes.txt').write_text('not a video')
    return raw


def test_cut_verify_and_resume(load_tool, raw_dir, tmp_path, capsys):
    tool = load_tool('ava/cut_clips.py')
    out = tmp_path / 'clips'
    args = [str(raw_dir), str(out), '--start', '2', '--end', '9', '--short-side', '36',
            '--workers', '1']
    assert tool.main(args) == 0
    clips = sorted(int(p.stem) for p in (out / MOVIE).glob('*.mp4'))
    assert clips == [2, 3, 4, 5, 6]  # --end beyond the movie stops at its last whole second
    assert not list((out / MOVIE).glob('.tmp*'))
    for sec in clips:
        path = out / MOVIE / f'{sec}.mp4'
        assert video_info(path) == (25, 25.0, 36, 64)
        frames = read_frames(path, range(25))
        shown = [sum(int(f[18, b * 8 + 4, 0] > 127) << b for b in range(8)) for f in frames]
        # frame k of <sec>.mp4 is movie time sec + k/25: the nearest 30 fps source frame
        expected = [round((sec + k / 25) * 30) for k in range(25)]
        assert max(abs(a - b) for a, b in zip(shown, expected)) <= 1
    assert '5 clips written' in capsys.readouterr().out

    assert tool.main(args) == 0
    assert '0 clips written, 5 already complete' in capsys.readouterr().out

    (out / MOVIE / '3.mp4').unlink()
    data = (out / MOVIE / '5.mp4').read_bytes()
    (out / MOVIE / '5.mp4').write_bytes(data[:len(data) // 2])
    untouched = (out / MOVIE / '4.mp4').stat().st_mtime_ns
    assert tool.main(args) == 0
    assert '2 clips written, 3 already complete' in capsys.readouterr().out
    assert video_info(out / MOVIE / '5.mp4').num_frames == 25
    assert (out / MOVIE / '4.mp4').stat().st_mtime_ns == untouched


def test_output_size_keeps_aspect_and_even_sides(load_tool):
    tool = load_tool('ava/cut_clips.py')
    assert tool.output_size(1920, 1080, 360) == (640, 360)
    assert tool.output_size(480, 360, 360) == (480, 360)
    assert tool.output_size(1080, 1920, 360) == (360, 640)
    assert tool.output_size(322, 202, 360) == (322, 202)
    assert tool.output_size(800, 450, 361) == (642, 360)  # short side stays <= 361


def test_unknown_listed_movie(load_tool, raw_dir, tmp_path, capsys):
    tool = load_tool('ava/cut_clips.py')
    listing = tmp_path / 'movies.txt'
    listing.write_text('noSuchMovie\n')
    assert tool.main([str(raw_dir), str(tmp_path / 'o'), '--movies', str(listing)]) == 2
    assert 'noSuchMovie' in capsys.readouterr().err
