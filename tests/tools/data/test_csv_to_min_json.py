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
    assert tool.main([str(csv_path), '--clips', str(ava_root / 'clips/trainval')]) == 1
    assert 'notAmovie12' in capsys.readouterr().err
    assert tool.main([str(csv_path), '--size', '320x240']) == 0  # sizes given: no clips needed
    bad = tmp_path / 'bad.csv'
    bad.write_text(CSV + 'm,0902,0.1,zero,0.2,0.2,12,0\n')
    assert tool.main([str(bad), '--size', '320x240']) == 1
    assert "bad.csv, line 7: y1 'zero' is not a number" in capsys.readouterr().err
