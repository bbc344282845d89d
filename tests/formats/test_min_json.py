"""``*_min.json``: official movie numbering (VAD/AlphAction csv2COCO), recording, validation."""
import json

import pytest

from videomae_det.formats import (AVAFormatError, AVAGroundTruth, build_min_json,
                                  check_min_json, load_json, load_min_json, movie_numbering,
                                  read_movie_list, validate_min_json, write_json)

# The head of a movie list in the official format (one ``<movie>.<ext>`` per line); the
# movies and their order here are made up for the test.
MOVIE_LIST = 'zlVkeKC6Ha8.mp4\n-5KQ66BBWC4.mkv\n1j20qq1JyX4.mp4\nxeGWXqSvC-8.webm\n'


def _gt():
    return AVAGroundTruth(
        keyframes=[('1j20qq1JyX4', 902), ('-5KQ66BBWC4', 1798), ('1j20qq1JyX4', 903)],
        persons={('1j20qq1JyX4', 902): [((0.1, 0.2, 0.5, 1.0), 0, [12, 80])]})


def test_movie_list_numbers_movies_by_line_like_csv2coco(tmp_path):
    path = tmp_path / 'ava_file_names_trainval_v2.1.txt'
    path.write_text(MOVIE_LIST)
    index = read_movie_list(path)
    assert index == {'zlVkeKC6Ha8': 0, '-5KQ66BBWC4': 1, '1j20qq1JyX4': 2, 'xeGWXqSvC-8': 3}
    data = build_min_json(_gt(), {'1j20qq1JyX4': (455, 256), '-5KQ66BBWC4': (340, 256)},
                          index, path.name)
    ids = {(img['movie'], img['timestamp']): img['id'] for img in data['images']}
    # id = line index × 10000 + timestamp, as VAD's released files use
    assert ids == {('1j20qq1JyX4', 902): 20902, ('1j20qq1JyX4', 903): 20903,
                   ('-5KQ66BBWC4', 1798): 11798}
    assert data['movie_index'] == {'1j20qq1JyX4': 2, '-5KQ66BBWC4': 1}
    assert data['info']['movie_numbering'] == f'movie list {path.name}'
    ann, = data['annotations']
    assert ann['image_id'] == 20902 and ann['action_ids'] == [12, 80]
    assert ann['bbox'] == pytest.approx([45.5, 51.2, 182.0, 204.8])
    assert validate_min_json(data) is data and movie_numbering(data) == data['movie_index']
    # sorted numbering (no list) gives other ids, and says so
    legacy = build_min_json(_gt(), {'1j20qq1JyX4': (455, 256), '-5KQ66BBWC4': (340, 256)})
    assert {img['id'] for img in legacy['images']} == {1798, 10902, 10903}
    assert legacy['info']['movie_numbering'] == 'sorted movies of the CSV'


def test_movie_list_errors(tmp_path):
    path = tmp_path / 'list.txt'
    path.write_text('a.mkv\nb.mkv\na.mp4\n')
    with pytest.raises(AVAFormatError, match="list.txt, line 3: movie 'a' is listed twice"):
        read_movie_list(path)
    path.write_text("a.mkv\n1j20qq1JyX4.mp4\n")
    with pytest.raises(AVAFormatError, match=r"1 movie\(s\) of the CSV are not in the movie"):
        build_min_json(_gt(), {'1j20qq1JyX4': (1, 1), '-5KQ66BBWC4': (1, 1)},
                       read_movie_list(path), 'list.txt')


def test_numbering_derived_from_vad_json():
    """A JSON made by VAD's csv2COCO records nothing; the numbering follows from its ids."""
    vad = dict(images=[dict(id=20902, movie='1j20qq1JyX4', timestamp=902, width=455, height=256),
                       dict(id=11798, movie='-5KQ66BBWC4', timestamp=1798, width=1, height=1)],
               annotations=[], categories=[])
    assert movie_numbering(vad) == {'1j20qq1JyX4': 2, '-5KQ66BBWC4': 1}
    vad['images'][1]['id'] = 21798  # two movies on one index: no numbering
    assert movie_numbering(vad) is None


def _image(**kw):
    img = dict(id=902, movie='m', timestamp=902, width=10, height=10)
    img.update(kw)
    return img


@pytest.mark.parametrize('data,reason', [
    ([], 'expected a COCO-like object'),
    (dict(images=[_image(timestamp='0902')]), "timestamp must be an integer (whole seconds), "
                                               "got str '0902'"),
    (dict(images=[_image(width=None)]), 'width must be a positive number, got NoneType'),
    (dict(images=[_image(id=True)]), 'id must be an integer'),
    (dict(images=[_image(), _image(timestamp=903)]), 'image id 902 appears twice'),
    (dict(images=[_image(), _image(id=903)]), 'keyframe m 902 appears twice'),
    (dict(images=[_image()], annotations=[dict(id=1, image_id=902, bbox=[0, 0, 1, 1]),
                                          dict(id=1, image_id=902, bbox=[0, 0, 1, 1])]),
     'annotation id 1 appears twice'),
    (dict(images=[_image()], annotations=[dict(image_id='902', bbox=[0, 0, 1, 1])]),
     'image_id must be an integer'),
    (dict(images=[_image()], annotations=[dict(image_id=7, bbox=[0, 0, 1, 1])]),
     'refers to unknown image_id 7'),
    (dict(images=[_image()], annotations=[dict(image_id=902, bbox=[0, 0, 'a', 1])]),
     'bbox must be 4 finite numbers'),
    (dict(images=[_image()], annotations=[dict(image_id=902, bbox=[0, 0, -1, 1])]),
     'negative width or height'),
    (dict(images=[_image()], annotations=[dict(image_id=902, bbox=[0, 0, 1, 1],
                                               action_ids='12')]),
     'action_ids must be a list of positive integers'),
    (dict(images=[_image(id=10902)], movie_index={'m': 0}), 'id should be 902'),
    (dict(images=[_image()], annotations={}), '"annotations" must be a list'),
])
def test_wrong_types_and_duplicates_are_named(data, reason):
    problems = check_min_json(data, 'x_min.json')
    assert problems and any(reason in str(p) for p in problems), problems
    assert all(str(p).startswith('x_min.json: ') for p in problems)
    with pytest.raises(AVAFormatError):
        validate_min_json(data, 'x_min.json')


def test_require_actions():
    data = dict(images=[_image()], annotations=[dict(image_id=902, bbox=[0, 0, 1, 1])])
    assert not check_min_json(data)
    assert "lacks key(s) ['action_ids']" in str(check_min_json(data, None, True)[0])


def test_json_files(tmp_path):
    path = tmp_path / 'a_min.json'
    write_json(path, dict(images=[_image()]))
    assert load_min_json(path)['annotations'] == []
    with pytest.raises(ValueError, match='non-finite'):
        write_json(tmp_path / 'nan.json', [dict(score=float('nan'))])
    assert not (tmp_path / 'nan.json').exists()
    path.write_text('{"images": [\n  {"id": 1,}]}')
    with pytest.raises(AVAFormatError, match='a_min.json, line 2: invalid JSON at column'):
        load_json(path)
    path.write_bytes(b'\x89PNG\r\n\x1a\n\xff')
    with pytest.raises(AVAFormatError, match='not a text file'):
        load_json(path)
    path.write_bytes(b'\xef\xbb\xbf' + json.dumps(dict(images=[_image()])).encode())
    assert load_min_json(path)['images'][0]['id'] == 902
