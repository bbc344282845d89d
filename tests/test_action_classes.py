"""ActionClasses: a label map's ids (any positive, not contiguous) <-> score columns."""
import numpy as np
import pytest

from videomae_det.action_classes import AVA_ACTION_NAMES, ActionClasses
from videomae_det.assets import AVA_LABEL_MAP
from videomae_det.formats import write_label_map


def test_ava_is_the_default_and_keeps_column_i_as_id_i_plus_1():
    ava = ActionClasses.resolve(None)
    assert len(ava) == 80 and ava.ids == tuple(range(1, 81))
    assert list(ava.columns([1, 14, 80])) == [0, 13, 79]
    assert ava.is_ava() and ActionClasses.from_file(AVA_LABEL_MAP).is_ava()


def test_non_contiguous_ids_map_to_columns_and_back(tmp_path):
    path = tmp_path / 'mine.pbtxt'
    # written out of order: columns follow ascending ids, not file order
    path.write_text('item {\n  name: "wave hello"\n  id: 108\n}\n'
                    'item {\n  name: "stroll"\n  id: 3\n}\n'
                    'item {\n  name: "take a seat"\n  id: 250\n}\n')
    classes = ActionClasses.resolve(str(path))
    assert classes.ids == (3, 108, 250)
    assert classes.names[108] == 'wave hello'
    assert list(classes.columns([250, 3])) == [2, 0]
    hot = classes.multi_hot([[3, 250], [], [108]])
    np.testing.assert_array_equal(hot, [[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    assert not classes.is_ava()
    with pytest.raises(ValueError, match=r'annotation #4: action id\(s\) \[14\] are not in the '
                       r'label map .*mine\.pbtxt'):
        classes.columns([3, 14], where='annotation #4')
    # through metainfo (what checkpoints keep) and back
    meta = classes.to_meta()
    assert meta == dict(action_ids=(3, 108, 250),
                        classes=('stroll', 'wave hello', 'take a seat'), num_classes=3)
    assert ActionClasses.from_meta(meta) == classes
    assert ActionClasses.from_meta({}) is None


def test_inline_maps_and_bad_ones():
    assert ActionClasses.resolve({5: 'a', 2: 'b'}).ids == (2, 5)
    # an AVA subset with AVA's names still counts as AVA (category means apply)
    assert ActionClasses({i: AVA_ACTION_NAMES[i] for i in (1, 14, 80)}).is_ava()
    assert not ActionClasses({1: 'bend', 14: 'walk'}).is_ava()
    for bad, msg in (({0: 'zero'}, 'not a positive integer'), ({1.5: 'x'}, 'not a positive'),
                     ({'x': 'y'}, 'not a positive'), ({3: ''}, 'has no name'),
                     ({}, 'no class')):
        with pytest.raises(ValueError, match=msg):
            ActionClasses(bad)
    with pytest.raises(TypeError, match='label_map must be'):
        ActionClasses.resolve(12)


def test_a_written_label_map_reads_back(tmp_path):
    names = {7: 'hop', 401: 'ride a unicycle', 12: 'stand'}
    write_label_map(tmp_path / 'm.pbtxt', names)
    assert ActionClasses.from_file(tmp_path / 'm.pbtxt').names == dict(sorted(names.items()))
