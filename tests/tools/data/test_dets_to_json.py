"""Person detections (CSV or COCO results) -> the detection JSON the dataset reads."""
import json

import numpy as np

from videomae_det.formats import AVAGroundTruth, build_min_json

MOVIE = 'abcdefghijk'


def _ann(tmp_path):
    gt = AVAGroundTruth(keyframes=[(MOVIE, 902), (MOVIE, 903)], persons={})
    data = build_min_json(gt, {MOVIE: (200, 100)})
    path = tmp_path / 'val_min.json'
    path.write_text(json.dumps(data))
    return path, data


def test_csv_detections(load_tool, tmp_path):
    tool = load_tool('ava/dets_to_json.py')
    ann, data = _ann(tmp_path)
    csv = tmp_path / 'dets.csv'
    csv.write_text(f'{MOVIE},0902,0.1,0.2,0.3,0.6,,0.9\n'
                   f'{MOVIE},0902,0.1,0.2,0.3,0.6,12,0.95\n'  # same box, another action row
                   f'{MOVIE},0903,0.5,0.5,1.0,1.0,0.4\n'
                   f'otherMovie1,0902,0.1,0.1,0.2,0.2,0.9\n')
    out = tmp_path / 'boxes.json'
    assert tool.main([str(csv), '--ann', str(ann), '--out', str(out)]) == 0
    dets = json.loads(out.read_text())
    ids = {img['timestamp']: img['id'] for img in data['images']}
    assert len(dets) == 2
    first = next(d for d in dets if d['image_id'] == ids[902])
    np.testing.assert_allclose(first['bbox'], [20, 20, 40, 40])
    assert first['score'] == 0.95 and first['category_id'] == 1
    assert (first['movie'], first['timestamp']) == (MOVIE, 902)  # checked on every read


def test_coco_results_detections(load_tool, tmp_path, capsys):
    tool = load_tool('ava/dets_to_json.py')
    ann, data = _ann(tmp_path)
    img_id = data['images'][0]['id']
    src = tmp_path / 'coco.json'
    src.write_text(json.dumps([
        dict(image_id=img_id, bbox=[1, 2, 3, 4], score=0.7, category_id=1),
        dict(image_id=img_id, bbox=[1, 2, 3, 4], score=0.9, category_id=3),  # a car
        dict(image_id=img_id + 10, bbox=[1, 2, 3, 4], score=0.9)]))  # same movie, 0912
    out = tmp_path / 'boxes.json'
    assert tool.main([str(src), '--ann', str(ann), '--out', str(out)]) == 0
    assert json.loads(out.read_text()) == [dict(image_id=img_id, category_id=1, score=0.7,
                                                bbox=[1.0, 2.0, 3.0, 4.0], movie=MOVIE,
                                                timestamp=902)]
    assert '1 on keyframes absent' in capsys.readouterr().out
    # an id of a movie the JSON does not number: an error with counts, nothing written
    src.write_text(json.dumps([dict(image_id=img_id, bbox=[1, 2, 3, 4], score=0.7),
                               dict(image_id=123456, bbox=[1, 2, 3, 4], score=0.9)]))
    out.unlink()
    assert tool.main([str(src), '--ann', str(ann), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert '1 of 2 detections do not belong to' in err and '123456' in err
    assert not out.exists()
    src.write_text(json.dumps([dict(image_id=img_id, bbox=[1, 2, 3, 4])]))
    assert tool.main([str(src), '--ann', str(ann), '--out', str(out)]) == 2
    assert "detection #0 lacks key(s) ['score']" in capsys.readouterr().err


def test_mmaction2_proposals_pickle_and_non_finite_scores(load_tool, tmp_path, capsys):
    import pickle
    tool = load_tool('ava/dets_to_json.py')
    ann, data = _ann(tmp_path)
    pkl = tmp_path / 'ava_dense_proposals_val.FAIR.recall_93.9.pkl'
    pkl.write_bytes(pickle.dumps({f'{MOVIE},0903': np.array([[0.5, 0.5, 1.0, 1.0, 0.9]])},
                                 protocol=2))
    out = tmp_path / 'boxes.json'
    assert tool.main([str(pkl), '--ann', str(ann), '--out', str(out)]) == 0
    det, = json.loads(out.read_text())
    assert det['image_id'] == data['images'][1]['id'] and det['bbox'] == [100, 50, 100, 50]
    # a NaN score (json.dumps writes it as bare NaN) is refused with the entry named
    src = tmp_path / 'nan.json'
    src.write_text('[{"image_id": %d, "bbox": [1, 2, 3, 4], "score": NaN}]'
                   % data['images'][0]['id'])
    assert tool.main([str(src), '--ann', str(ann), '--out', str(tmp_path / 'o.json')]) == 2
    assert 'detection #0: score must be a finite number, got nan' in capsys.readouterr().err
