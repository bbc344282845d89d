"""Person detections in the formats of VAD/AlphAction, PySlowFast and mmaction2."""
import io
import json
import pickle
import struct

import numpy as np
import pytest

from videomae_det.formats import (AVAFormatError, AVAGroundTruth, build_min_json,
                                  read_person_detections, read_proposals_pkl, to_coco_results)

OFFICIAL = {'zlVkeKC6Ha8': 0, '-5KQ66BBWC4': 1, '1j20qq1JyX4': 2}  # a movie list's numbering
SIZES = {'1j20qq1JyX4': (400, 200), '-5KQ66BBWC4': (300, 100)}


def _min_json(movie_index=OFFICIAL):
    gt = AVAGroundTruth(keyframes=[('1j20qq1JyX4', 902), ('1j20qq1JyX4', 903),
                                   ('-5KQ66BBWC4', 902)], persons={})
    return build_min_json(gt, SIZES, movie_index, 'ava_file_names_trainval_v2.1.txt')


def _write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


# --------------------------------------------------------------------------- COCO results
def test_vad_detection_json_plugs_into_an_officially_numbered_json(tmp_path):
    """VAD's ava_val_det_person_bbox.json: ids = official index × 10000 + t, every second."""
    dets = _write(tmp_path, 'ava_val_det_person_bbox.json', [
        dict(image_id=20902, bbox=[40.0, 20.0, 200.0, 100.0], score=0.98, category_id=1),
        dict(image_id=10902, bbox=[3, 1, 30, 10], score=0.5, category_id=1),
        dict(image_id=20904, bbox=[1, 1, 2, 2], score=0.9, category_id=1),  # not annotated
    ])
    out = read_person_detections(dets, _min_json(), 'val_min.json')
    np.testing.assert_allclose(out.boxes[20902], [[40, 20, 240, 120]])
    assert out.scores[10902].tolist() == [0.5]
    assert out.skipped == 1 and len(out) == 2 and out.source_format == 'coco'
    assert to_coco_results(out)[0] == dict(image_id=10902, category_id=1, score=0.5,
                                           bbox=[3.0, 1.0, 30.0, 10.0])


def test_ids_of_another_numbering_are_an_error_with_counts(tmp_path):
    """VAD ids against a JSON numbered in sorted order: -5KQ66BBWC4 is index 0 there and
    1j20qq1JyX4 index 1, so VAD's 10902 would land on the wrong movie; index 2 is nobody."""
    dets = _write(tmp_path, 'ava_val_det_person_bbox.json', [
        dict(image_id=20902, bbox=[1, 1, 2, 2], score=0.9),
        dict(image_id=20903, bbox=[1, 1, 2, 2], score=0.9),
        dict(image_id=10902, bbox=[1, 1, 2, 2], score=0.9, movie='-5KQ66BBWC4',
             timestamp=902)])
    with pytest.raises(AVAFormatError) as info:
        read_person_detections(dets, _min_json(movie_index=None), 'val_min.json')
    msg = str(info.value)
    assert 'ava_val_det_person_bbox.json: 3 of 3 detections do not belong to val_min.json' in msg
    assert '2 with image ids of movies it does not number, 1 whose movie/timestamp contradict' \
        in msg
    assert 'sorted movies of the CSV' in msg and '--movie-list' in msg


def test_movie_and_timestamp_fields_checked_against_the_id(tmp_path):
    ok = _write(tmp_path, 'a.json', [dict(image_id=20902, bbox=[1, 1, 2, 2], score=0.9,
                                          video_id='1j20qq1JyX4', timestamp='0902')])
    assert len(read_person_detections(ok, _min_json())) == 1
    bad = _write(tmp_path, 'b.json', [dict(image_id=20902, bbox=[1, 1, 2, 2], score=0.9,
                                           movie='1j20qq1JyX4', timestamp=903)])
    with pytest.raises(AVAFormatError, match='1 whose movie/timestamp contradict the id'):
        read_person_detections(bad, _min_json())


@pytest.mark.parametrize('entry,reason', [
    (dict(image_id=20902, bbox=[1, 1, 2, 2]), "lacks key(s) ['score']"),
    (dict(image_id='20902', bbox=[1, 1, 2, 2], score=1), 'image_id must be an integer'),
    (dict(image_id=20902, bbox=[1, 1, 2], score=1), 'bbox must be 4 finite numbers'),
    (dict(image_id=20902, bbox=[1, 1, -2, 2], score=1), 'negative width or height'),
    (dict(image_id=20902, bbox=[1, 1, 2, 2], score=None), 'score must be a finite number'),
])
def test_bad_coco_entries(tmp_path, entry, reason):
    path = _write(tmp_path, 'd.json', [entry])
    with pytest.raises(AVAFormatError, match='d.json: detection #0') as info:
        read_person_detections(path, _min_json())
    assert reason in str(info.value)


def test_nan_score_written_by_json_dumps_is_refused(tmp_path):
    path = tmp_path / 'd.json'
    path.write_text('[{"image_id": 20902, "bbox": [1, 1, 2, 2], "score": NaN}]')
    with pytest.raises(AVAFormatError, match='score must be a finite number, got nan'):
        read_person_detections(path, _min_json())


# --------------------------------------------------------------------------- CSV
def test_pyslowfast_predicted_boxes_csv(tmp_path):
    path = tmp_path / 'ava_val_predicted_boxes.csv'
    path.write_text('1j20qq1JyX4,0902,0.1,0.2,0.6,0.7,,0.996\n'
                    '1j20qq1JyX4,0902,0.1,0.2,0.6,0.7,,0.5\n'  # same box: highest score
                    '-5KQ66BBWC4,0902,0.0,0.0,1.0,1.0,,0.3\n'
                    'otherMovie1,0902,0.1,0.1,0.2,0.2,,0.9\n')
    out = read_person_detections(path, _min_json())
    np.testing.assert_allclose(out.boxes[20902], [[40, 40, 240, 140]])
    assert out.scores[20902].tolist() == [0.996]
    np.testing.assert_allclose(out.boxes[10902], [[0, 0, 300, 100]])
    assert out.skipped == 1 and out.source_format == 'csv'
    path.write_text('otherMovie1,0902,0.1,0.1,0.2,0.2,,0.9\n')
    with pytest.raises(AVAFormatError, match='none of its 1 keyframes'):
        read_person_detections(path, _min_json())


# --------------------------------------------------------------------------- mmaction2 pkl
PROPOSALS = {'1j20qq1JyX4,0902': np.array([[0.1, 0.2, 0.6, 0.7, 0.99],
                                           [0.0, 0.0, 0.5, 0.5, 0.2]], np.float32),
             '-5KQ66BBWC4,0902': np.array([[0.2, 0.2, 0.4, 0.4, 0.9]], np.float32),
             'zlVkeKC6Ha8,1000': np.zeros((0, 5), np.float32)}


class _Py2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` (SHORT_BINSTRING/BINSTRING), as the FAIR
    proposals files were written: loading them needs ``encoding='latin1'``."""
    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(obj)) + obj)
        self.memoize(obj)

    def save_str(self, obj):
        self.save_bytes(obj.encode('latin1'))

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str


def _py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


@pytest.mark.parametrize('flavour', ['py2', 'protocol2', 'protocol4', 'protocol5'])
def test_mmaction2_proposals_pickle(tmp_path, flavour):
    path = tmp_path / 'ava_dense_proposals_val.FAIR.recall_93.9.pkl'
    data = (_py2_pickle(PROPOSALS) if flavour == 'py2' else
            pickle.dumps(PROPOSALS, protocol=int(flavour[-1])))
    path.write_bytes(data)
    if flavour == 'py2':  # what plain pickle.load did: the UnicodeDecodeError of the issue
        with pytest.raises(UnicodeDecodeError):
            pickle.loads(data)
    props = read_proposals_pkl(path)
    assert set(props) == {('1j20qq1JyX4', 902), ('-5KQ66BBWC4', 902), ('zlVkeKC6Ha8', 1000)}
    np.testing.assert_allclose(props[('1j20qq1JyX4', 902)][1], [0.99, 0.2], rtol=1e-6)
    out = read_person_detections(path, _min_json())
    np.testing.assert_allclose(out.boxes[20902][0], [40, 40, 240, 140], rtol=1e-5)
    assert out.source_format == 'proposals-pkl' and len(out) == 3


def test_four_column_proposals_score_one(tmp_path):
    path = tmp_path / 'p.pkl'
    path.write_bytes(pickle.dumps({'1j20qq1JyX4,0902': np.array([[0.1, 0.1, 0.2, 0.2]])}))
    assert read_person_detections(path, _min_json()).scores[20902].tolist() == [1.0]


class _Evil:
    def __reduce__(self):
        import os
        return os.system, ('touch pwned',)


def test_pickle_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps({'1j20qq1JyX4,0902': _Evil()}, protocol=2))
    with pytest.raises(AVAFormatError, match='evil.pkl: not a proposals pickle: refusing '
                                             'posix.system'):
        read_person_detections(path, _min_json())
    assert not (tmp_path / 'pwned').exists()
    path.write_bytes(pickle.dumps(np.ma.array([1.0, 2.0])))  # an ndarray subclass
    with pytest.raises(AVAFormatError, match='refusing numpy.ma'):
        read_proposals_pkl(path)


@pytest.mark.parametrize('obj,reason', [
    ([1, 2], 'expected a dict'),
    ({'1j20qq1JyX4': np.zeros((1, 5))}, 'key must be "<movie>,<timestamp>"'),
    ({'1j20qq1JyX4,0902': np.zeros((1, 3))}, 'expected a numeric array (N, 5)'),
    ({'1j20qq1JyX4,0902': np.array([[0.1, 0.1, 0.2, 0.2, np.nan]])}, 'non-finite'),
    ({'1j20qq1JyX4,0902': np.array([[0.1, 0.1, 20, 20, 1]])}, 'outside [0, 1]'),
    ({'1j20qq1JyX4,0902': np.array([[0.3, 0.1, 0.2, 0.2, 1]])}, 'x2 < x1'),
])
def test_bad_proposals(tmp_path, obj, reason):
    path = tmp_path / 'p.pkl'
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(AVAFormatError, match='p.pkl') as info:
        read_proposals_pkl(path)
    assert reason in str(info.value)
    path.write_bytes(b'\x80\x04garbage')
    with pytest.raises(AVAFormatError, match='p.pkl: not a'):
        read_proposals_pkl(path)
