"""mini-AVA: deterministic from the seed, in the exact AVA layout, with learnable labels."""
import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from videomae_det.datasets import mini_ava
from videomae_det.formats import read_ground_truth_csv, read_label_map, read_exclusions
from videomae_det.datasets.video_io import read_frames, video_info


def _digest(root: Path):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('mini') / 'mini_ava'
    info = mini_ava.generate_mini_ava(root, seed=3, size='tiny', workers=2)
    return root, info


def test_same_seed_same_files_any_worker_count(tiny, tmp_path):
    root, _ = tiny
    again = tmp_path / 'again'
    mini_ava.generate_mini_ava(again, seed=3, size='tiny', workers=1)
    assert _digest(root) == _digest(again)
    other = tmp_path / 'other'
    mini_ava.generate_mini_ava(other, seed=4, size='tiny', workers=1)
    assert _digest(other) != _digest(root)


def test_layout_and_clip_format(tiny):
    root, info = tiny
    preset = mini_ava.PRESETS['tiny']
    movies = info['movies']['train'] + info['movies']['val']
    assert len(movies) == preset.train_movies + preset.val_movies
    for movie in movies:
        clips = sorted(int(p.stem) for p in (root / 'clips/trainval' / movie).glob('*.mp4'))
        assert clips == list(range(900, 900 + preset.duration))
    clip = root / 'clips/trainval' / movies[0] / '903.mp4'
    assert video_info(clip) == (25, 25.0, 120, 160)
    for name in ('ava_train_v2.2.csv', 'ava_val_v2.2.csv', 'ava_train_v2.2_min.json',
                 'ava_val_v2.2_min.json', 'ava_val_excluded_timestamps_v2.2.csv',
                 'mini_ava_action_list.pbtxt'):
        assert (root / 'annotations' / name).is_file(), name
    assert (root / 'boxes/ava_val_det_person_bbox.json').is_file()


def test_every_keyframe_is_annotated_or_excluded(tiny):
    root, info = tiny
    duration = mini_ava.PRESETS['tiny'].duration
    excluded = set(read_exclusions(root / 'annotations/ava_val_excluded_timestamps_v2.2.csv'))
    assert len(excluded) >= 1
    for split in ('train', 'val'):
        text = (root / f'annotations/ava_{split}_v2.2.csv').read_text()
        assert all(len(line.split(',')[1]) == 4 for line in text.splitlines())  # '0902'
        gt = read_ground_truth_csv(root / f'annotations/ava_{split}_v2.2.csv')
        expected = {(m, t) for m in info['movies'][split] for t in range(902, 900 + duration - 1)}
        assert set(gt.keyframes) | (excluded if split == 'val' else set()) == expected
        assert not set(gt.keyframes) & excluded


def test_json_matches_csv_and_label_map(tiny):
    root, _ = tiny
    labels = read_label_map(root / 'annotations/mini_ava_action_list.pbtxt')
    assert sorted(labels) == sorted(mini_ava.CLASS_IDS) and len(labels) >= 8
    assert labels[14] == 'walk' and labels[10] == 'run/jog' and labels[79].startswith('talk to')
    data = json.loads((root / 'annotations/ava_train_v2.2_min.json').read_text())
    movies = sorted({img['movie'] for img in data['images']})
    for img in data['images']:
        assert img['id'] == movies.index(img['movie']) * 10000 + img['timestamp']
        assert (img['width'], img['height']) == (160, 120)
    per_person = [a['action_ids'] for a in data['annotations']]
    assert all(set(ids) <= set(labels) for ids in per_person)
    assert max(len(ids) for ids in per_person) >= 2  # several labels per person at once
    for a in data['annotations']:
        x, y, w, h = a['bbox']
        assert 0 <= x and 0 <= y and x + w <= 160 + 1e-6 and y + h <= 120 + 1e-6 and w > 0


def test_detections_are_realistic(tiny):
    root, _ = tiny
    dets = json.loads((root / 'boxes/ava_val_det_person_bbox.json').read_text())
    gt = json.loads((root / 'annotations/ava_val_v2.2_min.json').read_text())
    ids = {img['id'] for img in gt['images']}
    assert dets and all(d['image_id'] in ids and d['category_id'] == 1 for d in dets)
    scores = np.array([d['score'] for d in dets])
    assert (scores >= 0.8).mean() > 0.5 and (scores < 0.8).any()  # most confident, some not


def test_boxes_sit_on_the_drawn_people(tiny):
    """The pixels inside the ground-truth boxes differ from the background more than the
    pixels just outside: the boxes are on the people."""
    root, _ = tiny
    data = json.loads((root / 'annotations/ava_train_v2.2_min.json').read_text())
    anns = Counter(a['image_id'] for a in data['annotations'])
    img = next(i for i in data['images'] if anns[i['id']])
    frames = read_frames(root / 'clips/trainval' / img['video_path'], [0, 12, 24]).astype(float)
    motion = np.abs(frames[2] - frames[0]).sum(-1)  # people move; the set does not
    inside = np.zeros(motion.shape, bool)
    for a in data['annotations']:
        if a['image_id'] == img['id']:
            x, y, w, h = (int(round(v)) for v in a['bbox'])
            inside[y:y + h, x:x + w] = True
    # camera shake moves everything a little; people move more
    assert motion[inside].mean() >= motion[~inside].mean()


def test_walk_and_run_poses_look_alike():
    """A single frame cannot tell walk from run: same limb-angle distribution; only the
    phase speed differs."""
    rng = np.random.default_rng(0)
    actor = mini_ava._new_actor(rng, 60.0, 100.0, 50.0, 1)
    extents = {}
    for body in ('walk', 'run'):
        actor.segments = [mini_ava.Segment(-1, 100, body)]
        phases = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        extents[body] = np.array([mini_ava._extent(mini_ava._figure(actor, 0.0, dict(phase=p)))
                                  for p in phases])
    np.testing.assert_allclose(extents['walk'], extents['run'])
    assert actor.cadence['run'] > 1.5 * actor.cadence['walk']
    assert actor.speed['run'] > 2 * actor.speed['walk']


def test_refuses_foreign_directory(tmp_path):
    (tmp_path / 'precious.txt').write_text('data')
    with pytest.raises(FileExistsError, match='refusing'):
        mini_ava.generate_mini_ava(tmp_path, size='tiny')
    assert (tmp_path / 'precious.txt').read_text() == 'data'


def test_interrupted_run_is_marked_incomplete_and_can_be_redone(tmp_path, monkeypatch):
    out = tmp_path / 'mini'
    mini_ava.generate_mini_ava(out, seed=0, size='tiny', workers=1)

    def broken(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(mini_ava, '_simulate_and_render', broken)
    with pytest.raises(KeyboardInterrupt):
        mini_ava.generate_mini_ava(out, seed=1, size='tiny', workers=1)
    info = json.loads((out / mini_ava.INFO_NAME).read_text())
    assert info['complete'] is False and 'seed' not in info and 'size' not in info
    monkeypatch.undo()
    info = mini_ava.generate_mini_ava(out, seed=1, size='tiny', workers=1)
    movies = sorted(p.name for p in (out / 'clips/trainval').iterdir())
    assert movies == sorted(info['movies']['train'] + info['movies']['val'])  # old ones cleared
