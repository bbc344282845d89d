"""tools/infer.py: annotated video, CSV and JSON from a video, on mp4/avi/mkv inputs."""
import importlib.util
import json
import re
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))
import infer  # noqa: E402

from videomae_det.apis import label_names_of  # noqa: E402
from videomae_det.visualization.synthetic import write_synthetic_video  # noqa: E402


def _load_apis_conftest():
    """tests/apis/conftest.py, for its checkpoint helper (one definition for both suites)."""
    spec = importlib.util.spec_from_file_location('apis_conftest',
                                                  ROOT / 'tests' / 'apis' / 'conftest.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    """The mini-AVA config file and a random checkpoint of its model."""
    from mmengine.config import Config
    conftest = _load_apis_conftest()
    cfg = Config.fromfile(str(conftest.MINI_CONFIG))
    ckpt = conftest.save_random_checkpoint(cfg, tmp_path_factory.mktemp('model') / 'tiny.pth')
    return conftest.MINI_CONFIG, ckpt


def _count(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n, (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))


@pytest.mark.parametrize('ext', ['.mp4', '.avi', '.mkv'])
def test_annotated_video_and_results_from_each_container(tmp_path, model_files, ext, capsys):
    cfg, ckpt = model_files
    video = tmp_path / f'walkers{ext}'
    write_synthetic_video(video, num_frames=40, fps=30, size=(320, 180), num_people=2)
    out, csv_path, json_path = tmp_path / 'o.mp4', tmp_path / 'o.csv', tmp_path / 'o.json'
    code = infer.main([str(video), '--config', str(cfg), '--checkpoint', str(ckpt), '--out',
                       str(out), '--csv', str(csv_path), '--json', str(json_path),
                       '--threshold', '0.2'])
    assert code == 0
    assert _count(out) == (40, (320, 180))  # every input frame, same size
    data = json.loads(json_path.read_text())
    assert [k['timestamp'] for k in data['keyframes']] == [0, 1]
    assert data['meta']['complete'] is True
    people = [p for k in data['keyframes'] for p in k['people']]
    assert people, 'HOG should find the walkers'
    rows = csv_path.read_text().splitlines()
    # one row per person and reported class (the config's label map, or all 80 without one)
    num_classes = len(label_names_of(Config.fromfile(str(cfg))))
    assert len(rows) == len(people) * num_classes
    assert all(r.startswith('walkers,') for r in rows)
    assert {r.split(',')[1] for r in rows} <= {'0', '1'}
    assert 'frames/s' in capsys.readouterr().out


def test_boxes_are_drawn_and_held_until_the_next_keyframe(tmp_path, model_files):
    cfg, ckpt = model_files
    video = tmp_path / 'plain.mkv'
    frames = np.full((50, 120, 160, 3), 128, np.uint8)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 25, (160, 120))
    for f in frames:
        writer.write(f)
    writer.release()
    boxes = tmp_path / 'boxes.json'
    # a person only at keyframe 0 s: drawn on frames 0-24, gone from 25 on
    boxes.write_text(json.dumps([dict(video_id='plain', timestamp=0, bbox=[40, 30, 60, 80],
                                      score=1.0)]))
    out = tmp_path / 'o.mp4'
    assert infer.main([str(video), '--config', str(cfg), '--checkpoint', str(ckpt), '--out',
                       str(out), '--detector', 'file', '--boxes', str(boxes)]) == 0
    cap = cv2.VideoCapture(str(out))
    drawn = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        drawn.append(np.abs(f.astype(int) - 128).max(axis=-1)[30:111, 40:101] > 40)
    assert len(drawn) == 50
    edges = np.array([d[:, 0].mean() for d in drawn])  # the box's left edge
    assert (edges[:25] > 0.9).all() and (edges[25:] < 0.1).all()


def test_truncated_input_writes_the_decoded_part_then_fails(tmp_path, model_files, capsys):
    cfg, ckpt = model_files
    video = tmp_path / 'cut.avi'
    write_synthetic_video(video, num_frames=100, fps=25, size=(160, 120), num_people=1)
    data = video.read_bytes()
    video.write_bytes(data[:len(data) // 2])
    out, json_path = tmp_path / 'o.mp4', tmp_path / 'o.json'
    code = infer.main([str(video), '--config', str(cfg), '--checkpoint', str(ckpt), '--out',
                       str(out), '--json', str(json_path)])
    assert code == 1  # the exit status of the command
    err = capsys.readouterr().err
    assert 'cut.avi' in err and 'frame' in err
    decoded = int(err.split('decoding stopped at frame ')[1].split(' ')[0])
    assert 0 < decoded < 100
    assert _count(out)[0] == decoded  # the partial annotated video is complete and playable
    result = json.loads(json_path.read_text())
    assert result['meta']['complete'] is False
    assert [k['frame_index'] for k in result['keyframes']] == list(range(0, decoded, 25))


def test_bad_arguments_and_missing_video(tmp_path, model_files, capsys):
    cfg, ckpt = model_files
    with pytest.raises(SystemExit):
        infer.main([str(tmp_path / 'x.mp4'), '--config', str(cfg), '--checkpoint', str(ckpt)])
    assert 'nothing to write' in capsys.readouterr().err
    assert infer.main([str(tmp_path / 'absent.mp4'), '--config', str(cfg), '--checkpoint',
                       str(ckpt), '--csv', str(tmp_path / 'o.csv')]) == 2
    assert 'absent.mp4' in capsys.readouterr().err
    assert not (tmp_path / 'o.csv').exists()


def test_a_checkpoint_of_another_model_is_refused_unless_partial_load(tmp_path, model_files,
                                                                      capsys):
    import torch
    cfg, ckpt = model_files
    state = torch.load(ckpt, weights_only=True)
    del state['state_dict']['roi_head.fc_cls.bias']
    torch.save(state, tmp_path / 'cut.pth')
    video = tmp_path / 'v.mp4'
    write_synthetic_video(video, num_frames=30, fps=25, size=(160, 120), num_people=1)
    args = [str(video), '--config', str(cfg), '--checkpoint', str(tmp_path / 'cut.pth'),
            '--csv', str(tmp_path / 'o.csv')]
    assert infer.main(args) == 2  # a checkpoint of another model: bad input
    err = capsys.readouterr().err
    assert 'cut.pth' in err and 'missing (1): roi_head.fc_cls.bias' in err
    assert not (tmp_path / 'o.csv').exists()
    assert infer.main(args + ['--partial-load']) == 0 and (tmp_path / 'o.csv').exists()


def test_boxes_file_without_this_video_says_which_ids_it_has(tmp_path, model_files, capsys):
    cfg, ckpt = model_files
    video = tmp_path / 'mine.mp4'
    write_synthetic_video(video, num_frames=5, fps=25, size=(96, 64))
    boxes = tmp_path / 'b.csv'
    boxes.write_text('otherMovie,0902,0.1,0.1,0.5,0.9,12,0\n')
    assert infer.main([str(video), '--config', str(cfg), '--checkpoint', str(ckpt), '--csv',
                       str(tmp_path / 'o.csv'), '--detector', 'file', '--boxes', str(boxes)]) == 2
    assert re.search(r"no boxes for video id 'mine'.*otherMovie.*--video-id",
                     capsys.readouterr().err)


def test_batch_size_and_precision(tmp_path, model_files):
    """--batch-size changes speed only (same CSV as one clip per forward); --precision bf16
    gives the same rows with scores within bfloat16 rounding."""
    cfg, ckpt = model_files
    video = tmp_path / 'walkers.mp4'
    write_synthetic_video(video, num_frames=100, fps=25, size=(320, 180), num_people=2)
    csvs = {}
    for name, extra in [('b1', ['--batch-size', '1']), ('b3', ['--batch-size', '3']),
                        ('bf16', ['--precision', 'bf16'])]:
        csvs[name] = tmp_path / f'{name}.csv'
        assert infer.main([str(video), '--config', str(cfg), '--checkpoint', str(ckpt),
                           '--csv', str(csvs[name]), *extra]) == 0
    b1, b3, bf16 = (csvs[k].read_text().splitlines() for k in ('b1', 'b3', 'bf16'))
    assert len({r.split(',')[1] for r in b1}) >= 3  # people found on several keyframes
    assert b1 == b3
    split = [r.rsplit(',', 1) for r in b1], [r.rsplit(',', 1) for r in bf16]
    assert [r[0] for r in split[0]] == [r[0] for r in split[1]]
    diffs = [abs(float(a[1]) - float(b[1])) for a, b in zip(*split)]
    # bfloat16 keeps 8 significant bits; this random checkpoint's classifier (std 0.5) spreads
    # the logits wide, which magnifies that rounding (the trained-model mAP is in docs/training.md)
    assert max(diffs) < 0.06 and sum(diffs) / len(diffs) < 0.01 and any(d > 0 for d in diffs)
    with pytest.raises(SystemExit):
        infer.parse_args([str(video), '--config', str(cfg), '--checkpoint', str(ckpt),
                          '--csv', 'x.csv', '--batch-size', '0'])


def test_folder_of_frames_needs_and_uses_fps(tmp_path, model_files, capsys):
    cfg, ckpt = model_files
    folder = tmp_path / 'frames'
    folder.mkdir()
    for i in range(30):
        cv2.imwrite(str(folder / f'{i + 1:05d}.jpg'), np.full((120, 160, 3), 100, np.uint8))
    json_path = tmp_path / 'o.json'
    base = [str(folder), '--config', str(cfg), '--checkpoint', str(ckpt), '--json', str(json_path)]
    assert infer.main(base) == 2  # usage: a folder of frames needs --fps
    assert 'frames' in capsys.readouterr().err and not json_path.exists()
    assert infer.main(base + ['--fps', '10', '--keyframe-interval', '1']) == 0
    data = json.loads(json_path.read_text())
    # 30 frames at 10 fps: keyframes at 0, 1, 2 s on frames 0, 10, 20
    assert [k['frame_index'] for k in data['keyframes']] == [0, 10, 20]
    assert data['meta']['video_id'] == 'frames' and data['meta']['complete'] is True


@pytest.fixture
def live_stream():
    conftest = _load_apis_conftest()
    return conftest.MJPEGStream, conftest.grey_frames


def test_ctrl_c_on_a_live_stream_writes_the_results_so_far(tmp_path, model_files, capsys,
                                                           live_stream, monkeypatch):
    """SIGINT mid-stream: exit status 130, the CSV/JSON/video so far written, marked
    incomplete."""
    import _thread
    MJPEGStream, grey_frames = live_stream
    cfg, ckpt = model_files
    out, csv_path, json_path = tmp_path / 'o.mp4', tmp_path / 'o.csv', tmp_path / 'o.json'
    real_show = infer._DrawingWriter.run
    seen = []

    def interrupt_after_two(self):  # Ctrl-C once two keyframes have been drawn
        real_get = self.inbox.get

        def get():
            item = real_get()
            if item is not None:
                seen.append(item[0].keyframe_index)
                if len(seen) == 2:
                    _thread.interrupt_main()
            return item
        self.inbox.get = get
        real_show(self)

    monkeypatch.setattr(infer._DrawingWriter, 'run', interrupt_after_two)
    with MJPEGStream(grey_frames(250, size=(160, 120)), fps=25) as stream:  # 10 s
        code = infer.main([stream.url, '--config', str(cfg), '--checkpoint', str(ckpt),
                           '--out', str(out), '--csv', str(csv_path), '--json', str(json_path),
                           '--keyframe-interval', '0.5', '--log-interval', '0'])
    assert code == 130
    captured = capsys.readouterr()
    assert 'interrupted' in captured.err
    assert 'keyframes/s' in captured.out and 'frames dropped' in captured.out
    data = json.loads(json_path.read_text())
    assert data['meta']['complete'] is False and data['meta']['interrupted'] is True
    assert data['meta']['video_id'] == 'live' and data['meta']['stream']['realtime'] is True
    done = [k['timestamp'] for k in data['keyframes']]
    assert len(done) >= 2 and done[-1] < 10
    assert _count(out)[0] > 0  # the annotated video so far is playable


def test_show_draws_every_frame_and_q_stops(tmp_path, model_files, monkeypatch):
    cfg, ckpt = model_files
    video = tmp_path / 'v.avi'
    write_synthetic_video(video, num_frames=60, fps=25, size=(160, 120), num_people=1)
    json_path = tmp_path / 'o.json'
    args = [str(video), '--config', str(cfg), '--checkpoint', str(ckpt), '--json',
            str(json_path), '--show']
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    if sys.platform.startswith('linux'):
        assert infer.main(args) == 2  # no display: one clear error (usage)
    monkeypatch.setenv('DISPLAY', ':99')
    shown = []
    monkeypatch.setattr(cv2, 'imshow', lambda name, img: shown.append(img.shape))
    monkeypatch.setattr(cv2, 'destroyAllWindows', lambda: None)
    monkeypatch.setattr(cv2, 'waitKey', lambda ms: ord('q') if len(shown) == 30 else -1)
    assert infer.main(args) == 130  # 'q' on the 30th frame stops like Ctrl-C
    assert shown == [(120, 160, 3)] * 30
    data = json.loads(json_path.read_text())
    assert data['meta']['complete'] is False
    assert [k['frame_index'] for k in data['keyframes']] == [0]  # the 2nd was being shown


def test_tracks_segments_and_smoothing(tmp_path, model_files):
    """Two walkers with exact boxes: each keeps one track id; the JSON, tracks CSV and
    segment files agree; --smooth-scores N gives each box the mean of its track's last N
    raw scores."""
    cfg, ckpt = model_files
    video = tmp_path / 'two.avi'
    truth = write_synthetic_video(video, num_frames=100, fps=25, size=(320, 180), num_people=2)
    entries = []
    for k in range(4):  # keyframes at 0, 1, 2, 3 s: frames 0, 25, 50, 75
        for p, (x1, y1, x2, y2) in enumerate(truth[25 * k]):
            entries.append(dict(video_id='two', timestamp=k, bbox=[float(x1), float(y1),
                                float(x2 - x1), float(y2 - y1)], score=0.95, person=p))
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps(entries))
    base = [str(video), '--config', str(cfg), '--checkpoint', str(ckpt), '--detector', 'file',
            '--boxes', str(boxes), '--threshold', '0.2']
    raw, smooth = tmp_path / 'raw.json', tmp_path / 'smooth.json'
    out = tmp_path / 'o'
    assert infer.main(base + ['--json', str(raw), '--track', '--tracks-csv', str(out) + '.csv',
                              '--segments', str(out) + '_seg.json', '--segments',
                              str(out) + '_seg.csv', '--srt', str(out) + '.srt',
                              '--timeline', str(out) + '.png']) == 0
    data = json.loads(raw.read_text())
    ids_per_person = {}
    for k in data['keyframes']:
        for person in k['people']:
            # which walker: the nearest true box
            x = person['box'][0]
            p = int(np.argmin([abs(x - b[0]) for b in truth[k['frame_index']]]))
            ids_per_person.setdefault(p, set()).add(person['track_id'])
    assert len(ids_per_person[0]) == 1 and len(ids_per_person[1]) == 1
    assert ids_per_person[0] != ids_per_person[1]
    rows = (tmp_path / 'o.csv').read_text().splitlines()
    assert rows[0].startswith('video_id,timestamp,track_id,')
    assert len(rows) - 1 == sum(len(k['people']) for k in data['keyframes']) == 8
    segs = json.loads((tmp_path / 'o_seg.json').read_text())['segments']
    tracks = {t for s in ids_per_person.values() for t in s}
    assert segs and {s['track'] for s in segs} <= tracks
    for s in segs:  # each segment's scores are its track's raw scores over its keyframes
        inside = [p['scores'][s['action'] - 1] for k in data['keyframes'] for p in k['people']
                  if p['track_id'] == s['track'] and s['start_s'] <= k['timestamp'] < s['end_s']]
        assert min(inside) >= 0.2
        assert s['peak_score'] == pytest.approx(max(inside), abs=1e-4)
    assert len((tmp_path / 'o_seg.csv').read_text().splitlines()) == len(segs) + 1
    assert (tmp_path / 'o.srt').read_text().count(' --> ') == len(segs)
    assert (tmp_path / 'o.png').read_bytes()[:4] == b'\x89PNG'

    assert infer.main(base + ['--json', str(smooth), '--smooth-scores', '2']) == 0
    smoothed = json.loads(smooth.read_text())
    history = {}
    for k_raw, k_s in zip(data['keyframes'], smoothed['keyframes']):
        for p_raw, p_s in zip(k_raw['people'], k_s['people']):
            assert p_s['track_id'] == p_raw['track_id']
            hist = history.setdefault(p_raw['track_id'], [])
            hist.append(np.array(p_raw['scores']))
            np.testing.assert_allclose(p_s['scores'], np.mean(hist[-2:], axis=0), atol=2e-5)
    assert smoothed['meta']['smooth_scores'] == 2


@pytest.mark.slow
def test_onnxruntime_backend_matches_pytorch(tmp_path, model_files, capsys):
    """--backend onnxruntime with a tools/export_onnx.py file gives the PyTorch backend's
    boxes and scores (float tolerance); a file exported for another clip size is refused
    with the --shape to export."""
    import export_onnx

    from videomae_det.apis import init_detector
    from videomae_det.apis.onnx_backend import model_input_shape
    cfg, ckpt = model_files
    video = tmp_path / 'walk.avi'
    write_synthetic_video(video, num_frames=50, fps=25, size=(320, 180), num_people=2)
    shape = model_input_shape(init_detector(str(cfg), str(ckpt)), 180, 320)
    onnx_path = tmp_path / 'det.onnx'
    assert export_onnx.main([str(cfg), str(ckpt), str(onnx_path), '--shape',
                             *map(str, shape)]) == 0
    base = [str(video), '--config', str(cfg), '--threshold', '0.2']
    torch_json, ort_json = tmp_path / 'pt.json', tmp_path / 'ort.json'
    assert infer.main(base + ['--checkpoint', str(ckpt), '--json', str(torch_json)]) == 0
    assert infer.main(base + ['--backend', 'onnxruntime', '--onnx', str(onnx_path),
                              '--json', str(ort_json)]) == 0
    a, b = json.loads(torch_json.read_text()), json.loads(ort_json.read_text())
    assert b['meta']['backend'] == 'onnxruntime'
    people_a = [p for k in a['keyframes'] for p in k['people']]
    people_b = [p for k in b['keyframes'] for p in k['people']]
    assert people_a and len(people_a) == len(people_b)
    for pa, pb in zip(people_a, people_b):
        assert pa['box'] == pb['box']
        np.testing.assert_allclose(pa['scores'], pb['scores'], atol=1e-3)
    # another frame size -> another clip size: one clear error naming the shape to export
    small = tmp_path / 'small.avi'
    write_synthetic_video(small, num_frames=30, fps=25, size=(160, 160), num_people=1)
    t, h, w = model_input_shape(init_detector(str(cfg), str(ckpt)), 160, 160)
    capsys.readouterr()
    # the file does not fit this input: bad input, exit 2 (utils/cli.py's convention)
    assert infer.main([str(small), '--config', str(cfg), '--backend', 'onnxruntime', '--onnx',
                       str(onnx_path), '--json', str(tmp_path / 's.json')]) == 2
    assert f'--shape {t} {h} {w}' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        infer.main(base + ['--backend', 'onnxruntime', '--json', str(ort_json)])
