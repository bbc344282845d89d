"""tools/check_data.py CONFIG: the data the config will read, every problem named."""
import json
import shutil

import pytest

from videomae_det.datasets.mini_ava import generate_mini_ava


@pytest.fixture(scope='module')
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp('check') / 'mini_ava'
    info = generate_mini_ava(root, seed=5, size='tiny', workers=1)
    return root, info


def _copy(mini, tmp_path):
    root = tmp_path / 'copy'
    shutil.copytree(mini[0], root)
    return root


def _run(tool, config, root, *extra):
    """check_data on the mini config with its data root moved to ``root``."""
    ann = f'{root}/annotations'
    options = [f'{loader}_dataloader.dataset.data_root={root}'
               for loader in ('train', 'val', 'test')]
    for evaluator in ('val_evaluator', 'test_evaluator'):
        options += [f'{evaluator}.ann_file={ann}/ava_val_v2.2.csv',
                    f'{evaluator}.label_map_file={ann}/mini_ava_action_list.pbtxt',
                    f'{evaluator}.exclude_file={ann}/ava_val_excluded_timestamps_v2.2.csv']
    return tool('check_data').main([config, '--workers', '1', *extra, '--cfg-options', *options])


def _edit_json(path, edit):
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return data


def test_clean_dataset_passes(tool, mini_config, mini, capsys):
    assert _run(tool, mini_config, mini[0]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith('OK:') and 'decoded' in out


def test_deleted_and_truncated_clips(tool, mini_config, mini, tmp_path, capsys):
    root = _copy(mini, tmp_path)
    movie = mini[1]['movies']['train'][0]
    (root / f'clips/trainval/{movie}/903.mp4').unlink()
    clip = root / f'clips/trainval/{movie}/905.mp4'
    clip.write_bytes(clip.read_bytes()[:clip.stat().st_size // 2])
    report = tmp_path / 'report.json'
    assert _run(tool, mini_config, root, '--out', str(report)) == 1
    out = capsys.readouterr().out
    assert f'missing: movie {movie} second 903: ' in out and f'{movie}/903.mp4' in out
    assert f'undecodable: {root}/clips/trainval/{movie}/905.mp4' in out
    assert len(json.loads(report.read_text())['problems']) == 2


def test_frames_of_another_size_name_the_movie(tool, mini_config, mini, tmp_path, capsys):
    """A JSON written for 320x240 over 160x120 clips: val mAP 0.00 with exit 0 before."""
    root = _copy(mini, tmp_path)
    movie = mini[1]['movies']['val'][0]

    def double(data):
        for img in data['images']:
            if img['movie'] == movie:
                img['width'], img['height'] = 2 * img['width'], 2 * img['height']
    _edit_json(root / 'annotations/ava_val_v2.2_min.json', double)
    assert _run(tool, mini_config, root, '--no-decode') == 1
    out = capsys.readouterr().out
    assert f'movie {movie}: stored frames are 160x120 but ' in out and 'gives 320x240' in out


def test_keyframes_past_the_last_clip(tool, mini_config, mini, tmp_path, capsys):
    root = _copy(mini, tmp_path)
    data = json.loads((root / 'annotations/ava_train_v2.2_min.json').read_text())
    movie = data['images'][0]['movie']
    last_t = max(img['timestamp'] for img in data['images'] if img['movie'] == movie)
    cut = last_t - 3  # the cut ends 3 s before the last annotated keyframe
    for clip in (root / 'clips/trainval' / movie).iterdir():
        if int(clip.stem) > cut:
            clip.unlink()
    assert _run(tool, mini_config, root, '--no-decode') == 1
    out = capsys.readouterr().out
    assert f'movie {movie}: ' in out and f'..{last_t}) lie past its last stored second ' \
        f'{cut + 24 / 25:.2f}' in out


def test_annotation_and_detection_problems(tool, mini_config, mini, tmp_path, capsys):
    root = _copy(mini, tmp_path)

    def corrupt(data):
        data['annotations'].append(dict(id=999, image_id=42, bbox=[0, 0, 5, 5],
                                        action_ids=[12]))
        data['annotations'].append(dict(data['annotations'][0]))  # duplicate id
        data['images'][1]['timestamp'] = str(data['images'][1]['timestamp'])  # wrong type
    _edit_json(root / 'annotations/ava_train_v2.2_min.json', corrupt)
    dets_path = root / 'boxes/ava_val_det_person_bbox.json'
    dets = json.loads(dets_path.read_text())
    dets.append(dict(image_id=770000 + 902, bbox=[0, 0, 5, 5], score=0.9, category_id=1))
    dets_path.write_text(json.dumps(dets))
    with open(root / 'annotations/ava_val_v2.2.csv', 'a') as f:
        f.write('zzzzzzzzzzz,0902\n')
    (root / 'annotations/ava_val_excluded_timestamps_v2.2.csv').write_text('')  # valid
    assert _run(tool, mini_config, root, '--no-decode') == 1
    out = capsys.readouterr().out
    assert 'refers to unknown image_id 42' in out
    assert f'annotation id {data_id(root)} appears twice' in out
    assert 'timestamp must be an integer (whole seconds), got str' in out
    assert f'{dets_path}: 1 of {len(dets)} detections do not belong to' in out
    assert 'ava_val_v2.2.csv: 1 ground-truth keyframe(s) have no image' in out
    assert 'zzzzzzzzzzz 902' in out and 'excluded' not in out


def data_id(root):
    return json.loads((root / 'annotations/ava_train_v2.2_min.json').read_text()
                      )['annotations'][0]['id']


def test_detections_without_box_at_threshold_and_nan_scores(tool, mini_config, mini, tmp_path,
                                                            capsys):
    root = _copy(mini, tmp_path)
    dets_path = root / 'boxes/ava_val_det_person_bbox.json'
    dets = json.loads(dets_path.read_text())
    for d in dets:
        d['score'] = min(d['score'], 0.5)
    dets_path.write_text(json.dumps(dets))
    assert _run(tool, mini_config, root, '--no-decode') == 1
    out = capsys.readouterr().out
    assert 'keeps a detection at det_score_thr=0.8' in out and 'highest score 0.5' in out
    dets_path.write_text(json.dumps(dets).replace('0.5', 'NaN', 1))
    assert _run(tool, mini_config, root, '--no-decode') == 1
    assert 'score must be a finite number, got nan' in capsys.readouterr().out


def test_bad_config_option(tool, mini_config, capsys):
    assert tool('check_data').main([mini_config, '--cfg-options', 'nope.key=1']) == 2
    assert 'nope' in capsys.readouterr().err
