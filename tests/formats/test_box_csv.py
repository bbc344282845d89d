import numpy as np
import pytest

from videomae_det.assets import AVA_LABEL_MAP
from videomae_det.formats import (MAX_LINE_BYTES, AVAFormatError, AVARows, format_box_csv,
                                  iter_csv_rows, quantize, read_box_csv, read_detections,
                                  read_exclusions, read_ground_truth_csv, read_groundtruth,
                                  read_label_map, rows_from_text, write_box_csv,
                                  write_ground_truth_csv)
from videomae_det.formats.box_csv import _check_row, _swar_fields

FIXTURES = 'tests/fixtures/eval_detection/'


def test_reads_fixture_groundtruth():
    rows = read_groundtruth(FIXTURES + 'gt.csv')
    assert rows.keys == [('3reY9zJKhqN', 1774), ('HmR8SmNIoxu', 1384), ('5HNXoce1raG', 1097)]
    assert len(rows) == 12
    np.testing.assert_array_equal(rows.row_boxes()[1], [0.050, 0.230, 0.522, 0.952])
    assert rows.labels.tolist() == [3, 1, 1, 2, 3, 3, 1, 3, 2, 1, 2, 3]
    assert rows.scores.tolist() == [0, 1, 2, 3] * 3  # person ids


def test_label_maps():
    assert read_label_map(FIXTURES + 'action_list.txt') == {1: 'action1', 2: 'action2',
                                                           3: 'action3'}
    official = read_label_map(AVA_LABEL_MAP)
    assert len(official) == 60 and official[1] == 'bend/bow (at the waist)'
    assert 2 not in official and 80 in official


def test_keys_compare_numerically_and_two_column_rows_make_keys():
    rows = rows_from_text('a,0902,0.1,0.2,0.3,0.4,5,0.5\nb,0903\na,902,0,0,1,1,7,0.25\n')
    assert rows.keys == [('a', 902), ('b', 903)]
    assert rows.key_index.tolist() == [0, 0]
    assert rows.labels.tolist() == [5, 7]


def test_seven_column_row_scores_one_and_crlf_and_quotes():
    rows = rows_from_text('"a",0902,0.1,0.2,0.3,0.4,5\r\n')
    assert rows.keys == [('a', 902)] and rows.scores.tolist() == [1.0]
    rows = rows_from_text('a,0902,0.1,0.2,0.3,0.4,5\r\nb,1,0,0,1,1,3,0.5\r\n')
    assert rows.scores.tolist() == [1.0, 0.5] and rows.labels.tolist() == [5, 3]


def test_fast_parser_equals_python_float_on_many_spellings():
    spellings = ['0', '1', '0.5', '.5', '1.', '0.1234', '0.12345678', '0.123456789',
                 '1e-3', '5E-1', ' 0.25', '0.30000000000000004', '00.75', '1.0000000',
                 '0.999999999999', '0.07', '0.0000001']
    rng = np.random.default_rng(0)
    lines, expected = [], []
    for i in range(400):
        box = sorted(rng.choice(spellings, 2), key=float) + sorted(rng.choice(spellings, 2),
                                                                  key=float)
        score = rng.choice(spellings + ['-0.5', '12.5', '123456789'])
        lines.append(f'v{i % 7},{900 + i % 5},{box[0]},{box[2]},{box[1]},{box[3]},'
                     f'{rng.integers(1, 81)},{score}')
        expected.append(_check_row(lines[-1].split(','), 'boxes'))
    rows = rows_from_text('\n'.join(lines))
    assert rows.row_boxes().tolist() == [e[1] for e in expected]  # bit-exact
    assert rows.scores.tolist() == [e[3] for e in expected]
    assert rows.labels.tolist() == [e[2] for e in expected]
    assert [rows.keys[k] for k in rows.key_index] == [e[0] for e in expected]


def test_swar_refuses_what_it_cannot_parse_exactly():
    texts = [b'1.2.3', b'1-2', b'', b'.', b'12345678', b'123456789', b'0.1e5', b'+1']
    win = np.array([int.from_bytes(t[-8:].rjust(8, b','), 'little') for t in texts],
                   np.uint64)
    values, ok, _ = _swar_fields(win, np.array([len(t) for t in texts]))
    assert ok.tolist() == [False, False, False, False, True, False, False, False]
    assert values[4] == 12345678.0


@pytest.mark.parametrize('row,reason', [
    ('a,0902,0.1,0.2,0.3', 'columns'),
    ('a,0902,0.1,0.2,0.3,0.4,5,0.5,9', 'columns'),
    ('a,0902,zero,0.2,0.3,0.4,5,0.5', "x1 'zero' is not a number"),
    ('a,0902,0.5,0.2,0.3,0.4,5,0.5', 'x2 = 0.3 < x1 = 0.5'),
    ('a,0902,0.1,0.5,0.3,0.4,5,0.5', 'y2 = 0.4 < y1 = 0.5'),
    ('a,0902,0.1,0.2,0.3,1.5,5,0.5', 'outside [0, 1]'),
    ('a,0902,-0.1,0.2,0.3,0.4,5,0.5', 'outside [0, 1]'),
    ('a,0902,0.1,0.2,0.3,0.4,5,nan', 'not a finite number'),
    ('a,0902,0.1,0.2,0.3,0.4,5,', "'' (score / person id) is not a number"),
    ('a,0902,0.1,0.2,0.3,0.4,five,0.5', "action id 'five' is not an integer"),
    ('a,0902,0.1,0.2,0.3,0.4,5.0,0.5', "action id '5.0' is not an integer"),
    ('a,noon,0.1,0.2,0.3,0.4,5,0.5', "timestamp 'noon' is not a number"),
])
def test_malformed_row_names_file_line_and_fault(tmp_path, row, reason):
    path = tmp_path / 'dets.csv'
    good = 'a,0902,0.1,0.2,0.3,0.4,5,0.5\n' * 3
    path.write_text(good + row + '\n' + good)
    with pytest.raises(AVAFormatError) as info:
        read_detections(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.path == str(path) and err.line == 4
    assert reason in str(err) and f'{path}, line 4' in str(err)


def test_first_bad_line_is_reported_across_chunks(tmp_path):
    path = tmp_path / 'dets.csv'
    lines = ['v,0902,0.1,0.2,0.3,0.4,5,0.5'] * 5000
    lines[3210] = 'v,0902,0.1,0.2,0.3,0.4,5,inf'
    lines[4000] = 'v,0902,0.1'
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(AVAFormatError, match='line 3211'):
        read_box_csv(path, chunk_bytes=1000)


def test_empty_detections_and_missing_files(tmp_path):
    empty = tmp_path / 'empty.csv'
    empty.write_text('')
    with pytest.raises(AVAFormatError, match='empty.csv: detections file has no rows'):
        read_detections(empty)
    only_keys = tmp_path / 'keys.csv'
    only_keys.write_text('a,0902\n')
    with pytest.raises(AVAFormatError, match='no detection rows'):
        read_detections(only_keys)
    with pytest.raises(AVAFormatError, match='nope.pbtxt: label map file not found'):
        read_label_map(tmp_path / 'nope.pbtxt')
    bad_map = tmp_path / 'bad.pbtxt'
    bad_map.write_text('item {\n  name: "x"\n  id: one\n}\n')
    with pytest.raises(AVAFormatError, match='bad.pbtxt, line 3'):
        read_label_map(bad_map)
    with pytest.raises(AVAFormatError, match='has no entry'):
        read_label_map(empty)


def test_exclusions(tmp_path):
    path = tmp_path / 'excl.csv'
    path.write_text('a,0902\nb,1000\n')
    assert read_exclusions(path) == [('a', 902), ('b', 1000)]
    path.write_text('a,0902,0.1\n')
    with pytest.raises(AVAFormatError, match='line 1: expected 2 columns'):
        read_exclusions(path)


def test_writer_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(1)
    n = 500
    boxes = np.sort(rng.random((n, 2, 2)), axis=1).transpose(0, 2, 1).reshape(n, 4)
    boxes = quantize(boxes[:, [0, 1, 2, 3]], 4)
    boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]),
                            np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1)
    rows = AVARows(keys=[('vid_a', 902), ('vid_b', 1798)],
                   key_index=rng.integers(0, 2, n).astype(np.int32), boxes=boxes,
                   labels=rng.integers(1, 81, n), scores=quantize(rng.random(n), 6))
    path = tmp_path / 'out.csv'
    write_box_csv(path, rows, chunk_rows=77)
    back = read_detections(path)
    assert back.keys == rows.keys or back.keys == rows.keys[::-1]
    assert [back.keys[k] for k in back.key_index] == [rows.keys[k] for k in rows.key_index]
    np.testing.assert_array_equal(back.row_boxes(), rows.boxes)
    np.testing.assert_array_equal(back.scores, rows.scores)
    np.testing.assert_array_equal(back.labels, rows.labels)
    assert path.read_text().splitlines()[0].split(',')[1] in ('0902', '1798')
    assert not [p for p in tmp_path.iterdir() if p.name != 'out.csv']  # no temp left
    with pytest.raises(ValueError, match='in \\[0, 1\\]'):
        format_box_csv(rows.keys, rows.key_index, rows.boxes, rows.labels, rows.scores + 1)


# --------------------------------------------------------------------------- issue 13 cases
GT_ROWS = ('-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,80,1\n'
           '-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,11,1\n'
           '-5KQ66BBWC4,0903\n')


def test_utf8_bom_is_skipped_by_every_reader(tmp_path):
    path = tmp_path / 'gt.csv'
    path.write_bytes(b'\xef\xbb\xbf' + GT_ROWS.encode())
    rows = read_groundtruth(path)
    # with the BOM kept the first movie would be '\ufeff-5KQ66BBWC4', a keyframe that
    # matches no detection (silently lower mAP)
    assert rows.keys == [('-5KQ66BBWC4', 902), ('-5KQ66BBWC4', 903)]
    assert next(iter_csv_rows(path))[1].movie == '-5KQ66BBWC4'
    assert read_ground_truth_csv(path).keyframes == rows.keys
    excl = tmp_path / 'excl.csv'
    excl.write_bytes(b'\xef\xbb\xbf-5KQ66BBWC4,0902\n')
    assert read_exclusions(excl) == [('-5KQ66BBWC4', 902)]
    assert rows_from_text('\ufeff' + GT_ROWS).keys == rows.keys


def test_empty_excluded_timestamps_file_is_valid(tmp_path):
    path = tmp_path / 'ava_val_excluded_timestamps_v2.2.csv'
    path.write_text('')
    assert read_exclusions(path) == []
    with pytest.raises(AVAFormatError, match='excluded-timestamps file not found'):
        read_exclusions(tmp_path / 'absent.csv')


@pytest.mark.parametrize('reader', ['fast', 'rows'])
def test_line_over_128_kb_is_a_bad_row(tmp_path, reader):
    path = tmp_path / 'dets.csv'
    path.write_text('a,0902,0.1,0.2,0.3,0.4,5,0.5\n' + 'a,0902,' + '9' * (MAX_LINE_BYTES + 10)
                    + ',0.2,0.3,0.4,5,0.5\n')
    with pytest.raises(AVAFormatError) as info:
        if reader == 'fast':
            read_box_csv(path, chunk_bytes=4096)
        else:
            list(iter_csv_rows(path, 'persons'))
    msg = str(info.value)
    assert f'{path}, line 2: line longer than 128 KB' in msg
    assert len(msg) < 600  # the row is quoted, not dumped


def test_nul_bytes_are_a_bad_row_not_a_csv_traceback(tmp_path):
    path = tmp_path / 'dets.csv'
    path.write_bytes(b'a,0902,0.1,0.2,0.3,0.4,5,0.5\na,09\x0002,0.1,0.2,0.3,0.4,5,0.5\n')
    with pytest.raises(AVAFormatError, match='line 2'):
        read_box_csv(path)


def test_action_ids_any_positive_integer(tmp_path):
    rows = rows_from_text('a,0902,0.1,0.2,0.3,0.4,81,0.5\na,0902,0.1,0.2,0.3,0.4,120,0.5\n')
    assert rows.labels.tolist() == [81, 120]
    for label in ('0', '-3'):
        with pytest.raises(AVAFormatError, match='not a positive integer'):
            rows_from_text(f'a,0902,0.1,0.2,0.3,0.4,{label},0.5\n')
    path = tmp_path / 'gt.csv'
    path.write_text('a,0902,0.1,0.2,0.3,0.4,0,1\n')
    with pytest.raises(AVAFormatError, match='line 1: action id 0 is not a positive integer'):
        list(iter_csv_rows(path))


def test_one_box_rule_for_both_readers(tmp_path):
    """x2 = 1.2 used to pass the dataset's reader and fail the evaluator's."""
    path = tmp_path / 'gt.csv'
    path.write_text('a,0902,0.1,0.2,1.2,0.4,5,1\n')
    with pytest.raises(AVAFormatError, match='x2 = 1.2 is outside'):
        read_groundtruth(path)
    with pytest.raises(AVAFormatError, match='x2 = 1.2 is outside'):
        read_ground_truth_csv(path)
    path.write_text('a,0902,0.3,0.2,0.3,0.4,5,1\n')  # zero width: legal in both
    assert len(read_groundtruth(path)) == 1
    assert read_ground_truth_csv(path).persons[('a', 902)][0][0] == (0.3, 0.2, 0.3, 0.4)


def test_person_rows_pyslowfast_predicted_boxes(tmp_path):
    """PySlowFast's ava_val_predicted_boxes.csv: ``movie,ts,x1,y1,x2,y2,,score``."""
    path = tmp_path / 'ava_val_predicted_boxes.csv'
    path.write_text('1j20qq1JyX4,0902,0.002,0.118,0.714,0.977,,0.996108\n'
                    '1j20qq1JyX4,0902,0.002,0.118,0.714,0.977,12,0.9\n'
                    '1j20qq1JyX4,0903,0.1,0.1,0.2,0.2,0.5\n'
                    '1j20qq1JyX4,0904,0.1,0.1,0.2,0.2\n')
    rows = [r for _, r in iter_csv_rows(path, 'persons')]
    assert [(r.action_id, r.extra) for r in rows] == [(None, 0.996108), (12, 0.9), (None, 0.5),
                                                      (None, None)]
    path.write_text('1j20qq1JyX4,0902,0.002,0.118,0.714,0.977,,nan\n')
    with pytest.raises(AVAFormatError, match='not a finite number'):
        list(iter_csv_rows(path, 'persons'))


def test_ground_truth_records_and_writer_round_trip(tmp_path):
    path = tmp_path / 'gt.csv'
    path.write_text(GT_ROWS)
    gt = read_ground_truth_csv(path)
    assert gt.keyframes == [('-5KQ66BBWC4', 902), ('-5KQ66BBWC4', 903)]
    assert gt.persons[('-5KQ66BBWC4', 902)] == [((0.077, 0.151, 0.283, 0.811), 1, [11, 80])]
    out = tmp_path / 'out.csv'
    write_ground_truth_csv(out, gt.keyframes, gt.persons)
    assert read_ground_truth_csv(out) == gt
    path.write_text('a,0902.5,0.1,0.2,0.3,0.4,5,1\n')
    with pytest.raises(AVAFormatError, match='not a whole second'):
        read_ground_truth_csv(path)
    path.write_text('a,0902,0.1,0.2,0.3,0.4,5\n')
    with pytest.raises(AVAFormatError, match='line 1: a ground-truth box row has 8 columns'):
        read_ground_truth_csv(path)


def test_error_quotes_at_most_200_characters_and_pickles():
    import pickle
    err = AVAFormatError('f.csv', 3, 'bad', 'x' * 5000)
    assert len(str(err)) < 300 and 'f.csv, line 3: bad' in str(err)
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.line == 3 and back.path == 'f.csv'


def test_result_csv_reads_back_with_the_evaluator_rules(tmp_path):
    from videomae_det.formats import format_result_csv
    boxes = np.array([[0.1, 0.2, 0.5, 0.9]])
    scores = np.linspace(0, 1, 80)[None]
    text = format_result_csv([('vid', 902.0, boxes, scores), ('vid', 903.0, boxes, scores)],
                             [80, 12])
    assert text.splitlines()[0] == 'vid,902,0.1000,0.2000,0.5000,0.9000,12,0.139241'
    path = tmp_path / 'results.csv'
    path.write_text(text)
    rows = read_detections(path)
    assert rows.keys == [('vid', 902), ('vid', 903)] and rows.labels.tolist() == [12, 80] * 2
    half = format_result_csv([('clip', 1.5, boxes, scores)], [1])
    assert half == 'clip,1.500,0.1000,0.2000,0.5000,0.9000,1,0.000000\n'
