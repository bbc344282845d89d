"""tools/data/detect_persons.py: person boxes for a dataset's keyframes from any layout,
resumable after a kill, parallel, with recall/precision against ground truth."""
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from videomae_det.datasets.mini_ava import generate_mini_ava
from videomae_det.datasets.video_io import VideoReader

REPO = Path(__file__).resolve().parents[3]
CONFIG = str(REPO / 'configs' / 'mini_ava' / 'vit_tiny.py')


class _BrightBox(torch.nn.Module):
    """An 'ONNX person detector' whose box depends on the frame: the bounding box of the
    pixels brighter than the frame's mean + 1 std (torchvision's output convention)."""

    def forward(self, image):  # (3, H, W) in [0, 1]
        gray = image.mean(0)
        mask = (gray > gray.mean() + gray.std()).float()
        h, w = gray.shape
        ys = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
        xs = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w)
        big = 1e6 * (1 - mask)
        box = torch.stack([(xs + big).min(), (ys + big).min(), (xs - big).max() + 1,
                           (ys - big).max() + 1])[None]
        return box, torch.ones(1, dtype=torch.int64), mask.mean()[None].clamp(0.01, 1)


@pytest.fixture(scope='module')
def detector_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp('onnx') / 'bright.onnx'
    torch.onnx.export(_BrightBox(), (torch.rand(3, 120, 160),), str(path),
                      input_names=['image'], output_names=['boxes', 'labels', 'scores'],
                      dynamic_axes={'image': {1: 'h', 2: 'w'}}, opset_version=17, dynamo=False)
    return str(path)


@pytest.fixture
def workspace(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp('ws')
    generate_mini_ava(root / 'data' / 'mini_ava', seed=0, size='tiny', workers=1)
    monkeypatch.chdir(root)
    return root


def _run(tool, *extra, out='dets.json', config=CONFIG):
    return tool.main([config, '--detector', 'onnx', '--out', out, '--no-progress',
                      '--min-score', '0.0', *extra])


def test_detections_json_recall_and_resume(workspace, detector_onnx, load_tool, capsys,
                                           monkeypatch):
    tool = load_tool('detect_persons.py')
    assert _run(tool, '--weights', detector_onnx, '--report', 'rep.json') == 0
    ann = json.loads(Path('data/mini_ava/annotations/ava_val_v2.2_min.json').read_text())
    dets = json.loads(Path('dets.json').read_text())
    assert sorted(d['image_id'] for d in dets) == sorted(im['id'] for im in ann['images'])
    assert all(d['category_id'] == 1 and len(d['bbox']) == 4 for d in dets)
    assert not Path('dets.json.partial').exists()
    report = json.loads(Path('rep.json').read_text())
    printed = capsys.readouterr().out
    assert f'person recall@0.5 {report["recall"]:.3f}' in printed
    assert report['num_gt'] == len(ann['annotations']) and report['score_threshold'] == 0.8
    # the dataset reads it as its proposal_file
    from videomae_det.datasets import AVAVideoDataset
    ds = AVAVideoDataset('annotations/ava_val_v2.2_min.json', data_root='data/mini_ava',
                         proposal_file=str(workspace / 'dets.json'), det_score_thr=0.0,
                         test_mode=True)
    assert len(ds) == len({d['image_id'] for d in dets})

    # killed after two keyframes: the partial file keeps them, a re-run does the rest only
    calls = []
    real = tool.detect_keyframe

    def dies_after_two(image):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(image['id'])
        return real(image)
    monkeypatch.setattr(tool, 'detect_keyframe', dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        _run(tool, '--weights', detector_onnx, out='again.json')
    lines = Path('again.json.partial').read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])['settings']['detector'] == 'onnx'
    with open('again.json.partial', 'a') as f:
        f.write('{"image_id": 12')  # torn by the kill
    monkeypatch.setattr(tool, 'detect_keyframe', real)
    done_before = set(calls)
    assert _run(tool, '--weights', detector_onnx, out='again.json') == 0
    assert '2 done earlier, 2 to detect' in capsys.readouterr().out
    assert json.loads(Path('again.json').read_text()) == dets
    assert done_before and not Path('again.json.partial').exists()

    # other settings do not silently mix with a partial run
    Path('mixed.json.partial').write_text('{"settings": {"detector": "hog"}}\n')
    assert _run(tool, '--weights', detector_onnx, out='mixed.json') == 2
    assert 'partial run with other settings' in capsys.readouterr().err
    assert _run(tool, '--weights', detector_onnx, '--restart', out='mixed.json') == 0

    # two worker processes give the same file
    assert _run(tool, '--weights', detector_onnx, '--workers', '2', out='par.json') == 0
    assert json.loads(Path('par.json').read_text()) == dets


def test_frames_layout_gives_the_clips_boxes(workspace, detector_onnx, load_tool, capsys):
    tool = load_tool('detect_persons.py')
    assert _run(tool, '--weights', detector_onnx) == 0
    from_clips = json.loads(Path('dets.json').read_text())
    # the val movie as 25 fps PNG frames from second 900 (the frames layout)
    ann = json.loads(Path('data/mini_ava/annotations/ava_val_v2.2_min.json').read_text())
    movie = ann['images'][0]['movie']
    clip_dir = Path('data/mini_ava/clips/trainval') / movie
    readers = [VideoReader(str(clip_dir / f'{s}.mp4'))
               for s in sorted(int(p.stem) for p in clip_dir.glob('*.mp4'))]
    frames = np.concatenate([r.read(list(range(r.num_frames))) for r in readers])
    (Path('frames') / movie).mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(f'frames/{movie}/img_{i + 1:05d}.png', cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    # a config whose val set reads them
    shutil.copytree(REPO / 'configs', 'configs')
    Path('configs/mini_ava/frames_cfg.py').write_text(
        'from mmengine.config import read_base\n'
        'with read_base():\n'
        '    from .vit_tiny import *  # noqa\n'
        f'val_dataloader.dataset.layout = dict(type="frames", dir="{os.getcwd()}/frames", '
        'fps=25, start_sec=900, template="{movie}/img_{index:05d}.png")\n')
    assert _run(tool, '--weights', detector_onnx, out='f.json', config='configs/mini_ava/frames_cfg.py') == 0
    assert json.loads(Path('f.json').read_text()) == from_clips  # lossless PNG frames
    # a frame missing: one error naming it, exit 2, progress kept
    t = ann['images'][0]['timestamp']
    os.remove(f'frames/{movie}/img_{(t - 900) * 25 + 1:05d}.png')
    assert _run(tool, '--weights', detector_onnx, out='g.json', config='configs/mini_ava/frames_cfg.py') == 2
    assert f'img_{(t - 900) * 25 + 1:05d}.png' in capsys.readouterr().err
