"""mini-Kinetics: unlabelled, deterministic, the folder-of-videos layout, never a mini-AVA movie."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from videomae_det.datasets import UnlabeledVideoDataset, mini_ava, mini_kinetics
from videomae_det.datasets.video_io import read_frames, video_info

MOVIES, DURATION = 3, 2


def _digest(root: Path):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp('mk') / 'mini_kinetics'
    info = mini_kinetics.generate_mini_kinetics(root, seed=0, movies=MOVIES, duration=DURATION,
                                                workers=2)
    return root, info


def test_only_videos_and_the_info_file_no_labels(small):
    root, info = small
    files = sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_file())
    names = info['movies']['unlabelled']
    assert files == sorted([mini_kinetics.KINETICS_INFO_NAME]
                           + [f'videos/{m}.mp4' for m in names])
    assert info['complete'] is True and len(names) == MOVIES == len(set(names))
    # the info file says what the videos are, never what happens in them
    assert set(info) == {'generator', 'complete', 'seed', 'duration', 'frame_size', 'fps',
                         'stream', 'video_dir', 'movies'}


def test_count_and_duration_of_the_videos(small):
    root, info = small
    for movie in info['movies']['unlabelled']:
        meta = video_info(str(root / 'videos' / f'{movie}.mp4'))
        assert meta.num_frames == DURATION * mini_ava.FPS
        assert (meta.width, meta.height) == (mini_ava.FRAME_W, mini_ava.FRAME_H)


def test_same_seed_same_files_any_worker_count(small, tmp_path):
    root, _ = small
    again = tmp_path / 'again'
    mini_kinetics.generate_mini_kinetics(again, seed=0, movies=MOVIES, duration=DURATION,
                                         workers=1)
    assert _digest(again) == _digest(root)
    other = tmp_path / 'other'
    mini_kinetics.generate_mini_kinetics(other, seed=1, movies=MOVIES, duration=DURATION,
                                         workers=1)
    assert not set(_digest(other).values()) & set(_digest(root).values())


def _first_frame(path: Path) -> np.ndarray:
    return read_frames(str(path), np.array([0]))[0].astype(np.float32)


def test_never_renders_a_mini_ava_val_movie(small, tmp_path, monkeypatch):
    root, info = small
    ava = tmp_path / 'mini_ava'
    ava_info = mini_ava.generate_mini_ava(ava, seed=0, size='tiny', workers=1)
    val = ava_info['movies']['val']
    # the same seed and movie indices: only the stream family keeps the two apart
    ava_frames = [_first_frame(ava / 'clips/trainval' / m / f'{mini_ava.FIRST_SEC}.mp4')
                  for m in val]
    ours = [_first_frame(root / 'videos' / f'{m}.mp4') for m in info['movies']['unlabelled']]
    gaps = [np.abs(a - b).mean() for a in ava_frames for b in ours]
    assert min(gaps) > 10, gaps
    # control: in mini-AVA's own stream family the same index renders the val movie again
    monkeypatch.setattr(mini_kinetics, 'MINI_KINETICS_STREAM', 0)
    clash = mini_kinetics.generate_mini_kinetics(tmp_path / 'clash', seed=0, movies=MOVIES,
                                                 duration=ava_info['preset']['duration'],
                                                 workers=1)
    index = len(ava_info['movies']['train'])  # the val movie's index in mini-AVA
    same = _first_frame(tmp_path / 'clash/videos' / f'{clash["movies"]["unlabelled"][index]}.mp4')
    assert np.abs(same - ava_frames[0]).mean() < 3


def test_avoided_names_are_not_used(small, tmp_path):
    _, info = small
    taken = info['movies']['unlabelled'][1]
    again = mini_kinetics.generate_mini_kinetics(tmp_path / 'a', seed=0, movies=MOVIES,
                                                 duration=1, workers=1, avoid_movies=[taken])
    names = again['movies']['unlabelled']
    assert taken not in names and len(names) == MOVIES == len(set(names))


def test_mini_ava_movies_reads_the_movie_lists(tmp_path):
    ava = tmp_path / 'mini_ava'
    info = mini_ava.generate_mini_ava(ava, seed=0, size='tiny', workers=1)
    assert mini_kinetics.mini_ava_movies(ava, ('val',)) == info['movies']['val']
    assert len(mini_kinetics.mini_ava_movies(ava)) == 3


def test_refuses_foreign_data_and_a_mini_ava(tmp_path):
    (tmp_path / 'precious.txt').write_text('data')
    with pytest.raises(FileExistsError, match='refusing'):
        mini_kinetics.generate_mini_kinetics(tmp_path, movies=1, duration=1)
    assert (tmp_path / 'precious.txt').read_text() == 'data'
    ava = tmp_path / 'mini_ava'
    mini_ava.generate_mini_ava(ava, seed=0, size='tiny', workers=1)
    before = _digest(ava)
    with pytest.raises(FileExistsError, match='mini_kinetics_info.json'):
        mini_kinetics.generate_mini_kinetics(ava, movies=1, duration=1)
    assert _digest(ava) == before


def test_a_rerun_replaces_an_earlier_mini_kinetics(tmp_path):
    out = tmp_path / 'mk'
    first = mini_kinetics.generate_mini_kinetics(out, seed=0, movies=2, duration=1, workers=1)
    second = mini_kinetics.generate_mini_kinetics(out, seed=5, movies=1, duration=1, workers=1)
    videos = sorted(p.stem for p in (out / 'videos').iterdir())
    assert videos == second['movies']['unlabelled']
    assert not set(videos) & set(first['movies']['unlabelled'])
    assert json.loads((out / mini_kinetics.KINETICS_INFO_NAME).read_text())['seed'] == 5


def test_the_pretraining_dataset_reads_it(small):
    root, info = small
    dataset = UnlabeledVideoDataset(str(root), layout='videos', data_prefix=dict(video='videos'),
                                    clip_len=8, frame_interval=4)
    assert len(dataset) == MOVIES
    assert dataset[0]['imgs'].shape == (8, mini_ava.FRAME_H, mini_ava.FRAME_W, 3)
