"""Official CSV -> *_min.json -> AVAVideoDataset round trip: pixel and normalised boxes agree."""
import json

import numpy as np
import pytest

from videomae_det.datasets import AVAVideoDataset
from videomae_det.datasets.video_io import write_video

SIZES = {'-aBc_123xyz': (96, 64), 'Zz9_-zz9Zz9': (64, 48)}  # (W, H) of each movie's clips
CSV = """\
-aBc_123xyz,0902,0.077,0.151,0.283,0.811,12,0
-aBc_123xyz,0902,0.077,0.151,0.283,0.811,79,0
-aBc_123xyz,0902,0.226,0.032,0.366,0.497,11,1
-aBc_123xyz,0903
Zz9_-zz9Zz9,0902,0.500,0.250,1.000,1.000,14,3
Zz9_-zz9Zz9,0902,0.500,0.250,1.000,1.000,12,3
"""


@pytest.fixture(scope='module')
def ava_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('ava')
    for movie, (w, h) in SIZES.items():
        for sec in range(900, 905):
            write_video(root / 'clips/trainval' / movie / f'{sec}.mp4',
                        np.full((25, h, w, 3), 100, np.uint8))
    (root / 'annotations').mkdir()
    (root / 'annotations/ava_train_v2.2.csv').write_text(CSV)
    return root


def test_round_trip(load_tool, ava_root):
    tool = load_tool('ava/csv_to_min_json.py')
    csv_path = ava_root / 'annotations/ava_train_v2.2.csv'
    assert tool.main([str(csv_path), '--clips', str(ava_root / 'clips/trainval')]) == 0
    data = json.loads((ava_root / 'annotations/ava_train_v2.2_min.json').read_text())
    assert len(data['images']) == 3  # the 2-column keyframe is an image without boxes
    assert {(i['movie'], i['width'], i['height']) for i in data['images']} == \
        {(m, w, h) for m, (w, h) in SIZES.items()}
    assert sorted(a['action_ids'] for a in data['annotations']) == [[11], [12, 14], [12, 79]]

    ds = AVAVideoDataset('annotations/ava_train_v2.2_min.json', data_root=str(ava_root),
                         clip_len=4)
    assert len(ds) == 2  # 0903 has no boxes
    rows = [line.split(',') for line in CSV.splitlines() if line.count(',') > 1]
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        w, h = SIZES[info['movie']]
        assert info['ori_shape'] == (h, w)
        expected = sorted({tuple(float(v) for v in r[2:6]) for r in rows
                           if r[0] == info['movie'] and int(r[1]) == info['timestamp']})
        normalised = info['proposals'] / np.array([w, h, w, h])
        order = np.lexsort(normalised.T[::-1])
        np.testing.assert_allclose(normalised[order], expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(info['proposals'][order],
                                   np.array(expected) * [w, h, w, h], rtol=0, atol=1e-9)
        # labels follow their boxes
        for box, labels in zip(normalised, info['gt_labels']):
            ids = sorted(int(r[6]) for r in rows if r[0] == info['movie']
                         and int(r[1]) == info['timestamp']
                         and np.allclose([float(v) for v in r[2:6]], box, atol=1e-12))
            assert (np.flatnonzero(labels) + 1).tolist() == ids


def test_missing_clips_and_bad_rows(load_tool, ava_root, tmp_path, capsys):
    tool = load_tool('ava/csv_to_min_json.py')
    csv_path = tmp_path / 'x.csv'
    csv_path.write_text(CSV + 'notAmovie12,0902,0.1,0.1,0.2,0.2,12,0\n')
    assert tool.main([str(csv_path), '--clips', str(ava_root / 'clips/trainval')]) == 2
    assert 'notAmovie12' in capsys.readouterr().err
    # one size for every movie is gone: movies differ in resolution
    assert tool.main([str(csv_path), '--clips', 'x', '--size', '320x240']) == 2
    assert '--size was removed' in capsys.readouterr().err
    bad = tmp_path / 'bad.csv'
    bad.write_text(CSV + 'm,0902,0.1,zero,0.2,0.2,12,0\n')
    assert tool.main([str(bad), '--clips', str(ava_root / 'clips/trainval')]) == 2
    assert "bad.csv, line 7: y1 'zero' is not a number" in capsys.readouterr().err


def test_per_movie_sizes_from_pyslowfast_frames(load_tool, tmp_path):
    """PySlowFast frame folders frames/<movie>/<movie>_%06d.jpg at each movie's resolution."""
    import cv2
    tool = load_tool('ava/csv_to_min_json.py')
    for movie, (w, h) in SIZES.items():
        folder = tmp_path / 'frames' / movie
        folder.mkdir(parents=True)
        for n in range(1, 4):
            cv2.imwrite(str(folder / f'{movie}_{n:06d}.jpg'), np.zeros((h, w, 3), np.uint8))
    csv_path = tmp_path / 'ava_val_v2.2.csv'
    csv_path.write_text(CSV)
    assert tool.main([str(csv_path), '--frames', str(tmp_path / 'frames'),
                      '--frame-template', '{movie}/{movie}_%06d.jpg']) == 0
    data = json.loads((tmp_path / 'ava_val_v2.2_min.json').read_text())
    assert {img['movie']: (img['width'], img['height']) for img in data['images']} == SIZES


# The official list has one <movie>.<ext> per line; this one is made up for the test.
MOVIE_LIST = 'aaaaaaaaaaa.mkv\nZz9_-zz9Zz9.mp4\nbbbbbbbbbbb.mkv\n-aBc_123xyz.webm\n'


def test_movie_list_numbering_lets_vad_detections_plug_in(load_tool, ava_root, tmp_path,
                                                         capsys):
    """VAD numbers -aBc_123xyz as its line 3 of the list: its detection ids are 3×10000+t.
    Built with the list, our JSON has the same ids; built without, the detections are
    refused with counts instead of landing on another movie."""
    to_json = load_tool('ava/csv_to_min_json.py')
    dets_tool = load_tool('ava/dets_to_json.py')
    movie_list = tmp_path / 'ava_file_names_trainval_v2.1.txt'
    movie_list.write_text(MOVIE_LIST)
    csv_path = tmp_path / 'ava_val_v2.2.csv'
    csv_path.write_text(CSV)
    clips = str(ava_root / 'clips/trainval')
    assert to_json.main([str(csv_path), '--clips', clips, '--movie-list', str(movie_list)]) == 0
    data = json.loads((tmp_path / 'ava_val_v2.2_min.json').read_text())
    assert {(i['movie'], i['timestamp']): i['id'] for i in data['images']} == {
        ('-aBc_123xyz', 902): 30902, ('-aBc_123xyz', 903): 30903, ('Zz9_-zz9Zz9', 902): 10902}
    assert data['movie_index'] == {'-aBc_123xyz': 3, 'Zz9_-zz9Zz9': 1}
    assert 'ava_file_names_trainval_v2.1.txt' in data['info']['movie_numbering']
    vad = tmp_path / 'ava_val_det_person_bbox.json'  # VAD-style: every second of a movie
    vad.write_text(json.dumps([dict(image_id=30902, bbox=[7.4, 9.7, 19.8, 42.2], score=0.99,
                                    category_id=1),
                               dict(image_id=10902, bbox=[32, 12, 32, 36], score=0.97,
                                    category_id=1),
                               dict(image_id=31500, bbox=[1, 1, 5, 5], score=0.9,
                                    category_id=1)]))
    out = tmp_path / 'boxes.json'
    assert dets_tool.main([str(vad), '--ann', str(tmp_path / 'ava_val_v2.2_min.json'),
                           '--out', str(out)]) == 0
    assert {d['image_id'] for d in json.loads(out.read_text())} == {30902, 10902}
    assert '1 on keyframes absent' in capsys.readouterr().out

    assert to_json.main([str(csv_path), '--clips', clips, '--out',
                         str(tmp_path / 'sorted_min.json')]) == 0
    assert dets_tool.main([str(vad), '--ann', str(tmp_path / 'sorted_min.json'),
                           '--out', str(tmp_path / 'wrong.json')]) == 2
    err = capsys.readouterr().err
    # sorted numbering: Zz9_-zz9Zz9 happens to be index 1 in both; the other two ids are not
    # movies of that JSON, and the file is refused as a whole
    assert '2 of 3 detections do not belong to' in err and '--movie-list' in err
    assert not (tmp_path / 'wrong.json').exists()
