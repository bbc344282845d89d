"""check_data finds a deleted clip, a truncated clip and annotations that point at nothing."""
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


def test_clean_dataset_passes(load_tool, mini, capsys):
    tool = load_tool('ava/check_data.py')
    assert tool.main([str(mini[0]), '--clip-len', '16', '--workers', '1']) == 0
    assert capsys.readouterr().out.startswith('OK:')


def test_deleted_and_truncated_clips(load_tool, mini, tmp_path, capsys):
    tool = load_tool('ava/check_data.py')
    root = _copy(mini, tmp_path)
    movie = mini[1]['movies']['train'][0]
    (root / f'clips/trainval/{movie}/903.mp4').unlink()
    clip = root / f'clips/trainval/{movie}/905.mp4'
    clip.write_bytes(clip.read_bytes()[:clip.stat().st_size // 2])
    report = tmp_path / 'report.json'
    assert tool.main([str(root), '--workers', '1', '--out', str(report)]) == 1
    out = capsys.readouterr().out
    assert f'missing: movie {movie} second 903: ' in out and f'{movie}/903.mp4' in out
    assert f'undecodable: {root}/clips/trainval/{movie}/905.mp4' in out
    assert len(json.loads(report.read_text())['problems']) == 2


def test_dangling_annotations(load_tool, mini, tmp_path, capsys):
    tool = load_tool('ava/check_data.py')
    root = _copy(mini, tmp_path)
    ann = root / 'annotations/ava_train_v2.2_min.json'
    data = json.loads(ann.read_text())
    data['annotations'].append(dict(id=999, image_id=42, bbox=[0, 0, 5, 5], action_ids=[12]))
    ann.write_text(json.dumps(data))
    dets_path = root / 'boxes/ava_val_det_person_bbox.json'
    dets = json.loads(dets_path.read_text())
    dets.append(dict(image_id=77, bbox=[0, 0, 5, 5], score=0.9, category_id=1))
    dets_path.write_text(json.dumps(dets))
    with open(root / 'annotations/ava_val_v2.2.csv', 'a') as f:
        f.write('zzzzzzzzzzz,0902\n')
    (root / 'annotations/ava_val_v2.2_min.json').write_text('{"images": [')
    assert tool.main([str(root), '--no-decode']) == 1
    out = capsys.readouterr().out
    assert 'annotation #' in out and 'image_id 42, which is not in its images' in out
    assert 'ava_val_v2.2_min.json, line 1: invalid JSON' in out
    # with the val JSON broken, the detections cannot be matched, but they are still parsed
    (root / 'annotations/ava_val_v2.2_min.json').write_text(
        (mini[0] / 'annotations/ava_val_v2.2_min.json').read_text())
    assert tool.main([str(root), '--no-decode']) == 1
    out = capsys.readouterr().out
    assert 'detection #' in out and 'image_id 77' in out
    assert 'keyframe zzzzzzzzzzz,0902 has no image' in out
