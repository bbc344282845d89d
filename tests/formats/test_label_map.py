"""Label maps: the ActivityNet pbtxt, the full AVA list and mmaction2's label_map.txt."""
import pytest

from videomae_det.assets import AVA_LABEL_MAP
from videomae_det.formats import AVAFormatError, read_label_map, write_label_map


def test_official_pbtxt():
    labels = read_label_map(AVA_LABEL_MAP)
    assert len(labels) == 60 and labels[1] == 'bend/bow (at the waist)'
    assert 2 not in labels and labels[80] == 'watch (a person)'
    assert list(labels)[:3] == [1, 3, 4]  # file order


def test_id_before_name_gives_the_same_names(tmp_path):
    """Fields of an entry in any order (the evaluator used to shift the names by one)."""
    a = tmp_path / 'a.pbtxt'
    a.write_text('item {\n  name: "bend/bow (at the waist)"\n  id: 1\n}\n'
                 'item {\n  name: "crawl"\n  id: 2\n}\n')
    b = tmp_path / 'b.pbtxt'
    b.write_text('item {\n  id: 1\n  name: "bend/bow (at the waist)"\n}\n'
                 'item { id: 2 name: "crawl" }\n')
    assert read_label_map(a) == read_label_map(b) == {1: 'bend/bow (at the waist)', 2: 'crawl'}


def test_full_ava_list_label_blocks(tmp_path):
    path = tmp_path / 'ava_action_list_v2.2.pbtxt'
    path.write_text('label {\n  name: "bend/bow (at the waist)"\n  label_id: 1\n'
                    '  label_type: PERSON_MOVEMENT\n}\n'
                    'label {\n  name: "carry/hold (an object)"\n  label_id: 17\n'
                    '  label_type: OBJECT_MANIPULATION\n}\n')
    assert read_label_map(path) == {1: 'bend/bow (at the waist)', 17: 'carry/hold (an object)'}


def test_mmaction2_label_map_txt(tmp_path):
    """mmaction2's tools/data/ava/label_map.txt: ``N: name`` per line."""
    path = tmp_path / 'label_map.txt'
    path.write_text('1: bend/bow (at the waist)\n3: crouch/kneel\n4: dance\n'
                    '80: watch (a person)\n')
    assert read_label_map(path) == {1: 'bend/bow (at the waist)', 3: 'crouch/kneel',
                                    4: 'dance', 80: 'watch (a person)'}
    path.write_text('1: bend/bow (at the waist)\nstand\n')
    with pytest.raises(AVAFormatError, match=r'label_map.txt, line 2: expected "N: name"'):
        read_label_map(path)


def test_ids_beyond_80_are_allowed(tmp_path):
    path = tmp_path / 'mine.txt'
    path.write_text('81: juggle\n120: unicycle\n')
    assert read_label_map(path) == {81: 'juggle', 120: 'unicycle'}


@pytest.mark.parametrize('text,reason', [
    ('item {\n  name: "x"\n  id: one\n}\n', "line 3: id 'one' is not an integer"),
    ('item {\n  name: "x"\n  id: 0\n}\n', 'line 3: id 0 is not a positive integer'),
    ('item {\n  name: "x"\n}\n', 'line 1: entry has no id'),
    ('item {\n  id: 4\n}\n', 'line 1: entry has no name'),
    ('item {\n  name: "x"\n  id: 4\n', 'line 1: "item {" is never closed'),
    ('item { name: "x" id: 4 }\nitem { name: "y" id: 4 }\n', 'line 2: id 4 appears twice'),
    ('4: x\n4: y\n', 'line 2: id 4 appears twice'),
    ('', 'has no entry'),
])
def test_bad_label_maps(tmp_path, text, reason):
    path = tmp_path / 'map.pbtxt'
    path.write_text(text)
    with pytest.raises(AVAFormatError, match='map.pbtxt') as info:
        read_label_map(path)
    assert reason in str(info.value)


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / 'model.pth'
    path.write_bytes(b'PK\x03\x04\x14\x00\x00\x08\x08\x00\xff\xfe\x00binary')
    with pytest.raises(AVAFormatError, match=r'model.pth, line 1: not a text file'):
        read_label_map(path)
    with pytest.raises(AVAFormatError, match='label map file not found'):
        read_label_map(tmp_path / 'absent.pbtxt')


def test_write_round_trip(tmp_path):
    labels = {1: 'bend/bow (at the waist)', 12: 'stand', 99: 'mine'}
    write_label_map(tmp_path / 'out.pbtxt', labels)
    assert read_label_map(tmp_path / 'out.pbtxt') == labels
