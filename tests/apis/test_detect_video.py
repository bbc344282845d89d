"""init_detector + detect_video end to end on real videos with a real (tiny) detector."""
import numpy as np
import pytest
import torch

from videomae_det.apis import (BoxesFilePersonDetector, HOGPersonDetector, detect_video,
                               init_detector, label_names_of)
from videomae_det.formats import read_ground_truth_csv
from videomae_det.datasets.video_io import VideoDecodeError
from videomae_det.visualization.synthetic import write_synthetic_video


@pytest.fixture(scope='module')
def model(tiny_config, tiny_checkpoint):
    return init_detector(tiny_config, tiny_checkpoint)


def test_init_detector_loads_the_checkpoint(tiny_config, tiny_checkpoint, model):
    state = torch.load(tiny_checkpoint, weights_only=True)['state_dict']
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key])
    assert not model.training
    # the config kept in the checkpoint rebuilds the same model
    again = init_detector(None, tiny_checkpoint)
    torch.testing.assert_close(again.roi_head.fc_cls.weight, model.roi_head.fc_cls.weight)


def test_init_detector_refuses_a_checkpoint_of_another_model(tiny_config, tmp_path):
    torch.save(dict(state_dict={'backbone.foo': torch.zeros(2)}, meta={}), tmp_path / 'x.pth')
    with pytest.raises(ValueError, match=r'(?s)x\.pth.*missing.*backbone\.foo.*likely cause'):
        init_detector(tiny_config, tmp_path / 'x.pth')


def test_results_land_on_the_ground_truth_boxes(model, mini_ava_movie):
    movie, first = mini_ava_movie['movie'], mini_ava_movie['first_sec']
    detector = BoxesFilePersonDetector(mini_ava_movie['val_min_json'])
    results = list(detect_video(model, mini_ava_movie['path'], detector, 1.0, 0.3,
                                time_offset=first))
    assert [r.timestamp for r in results] == list(range(first, first + 8))
    assert [r.frame_index for r in results] == list(range(0, 200, 25))
    gt = read_ground_truth_csv(mini_ava_movie['val_csv'])
    checked = 0
    for r in results:
        assert r.video_id == movie
        truth = np.array([box for box, _, _ in gt.persons.get((movie, r.timestamp), [])],
                         np.float32).reshape(-1, 4)
        assert len(r.boxes_norm) == len(truth)
        # every output box is one ground-truth box (to the CSV's 3 decimals)
        np.testing.assert_allclose(sorted(r.boxes_norm.tolist()), sorted(truth.tolist()),
                                   atol=2e-3)
        np.testing.assert_allclose(r.boxes, r.boxes_norm * [160, 120, 160, 120], atol=1e-3)
        assert r.action_scores.shape == (len(truth), 80)
        checked += len(truth)
        for actions, scores in zip(r.actions, r.action_scores):
            # only the label map's classes, above the threshold, highest first
            assert all(a in label_names_of(model.cfg) and s >= 0.3 for a, s in actions)
            assert [s for _, s in actions] == sorted((s for _, s in actions), reverse=True)
            for a, s in actions:
                assert s == pytest.approx(scores[a - 1])
    assert checked >= 4


def test_thirty_fps_video_with_hog_and_frames_attached(model, tmp_path):
    path = tmp_path / 'walk.avi'
    write_synthetic_video(path, num_frames=75, fps=30, size=(320, 180), num_people=2)
    results = list(detect_video(model, path, HOGPersonDetector(), keyframe_interval=0.5,
                                with_frames=True))
    assert [r.timestamp for r in results] == [0, 0.5, 1.0, 1.5, 2.0]
    assert [r.frame_index for r in results] == [0, 15, 30, 45, 60]
    # every frame is shown exactly once, with the latest keyframe's results
    shown = [i for r in results for i, _ in r.frames]
    assert shown == list(range(75))
    assert [r.frames[0][0] for r in results] == [r.frame_index for r in results]
    assert sum(len(r.boxes) for r in results) >= 5  # HOG finds the walkers
    for r in results:
        assert r.boxes.shape == (len(r.person_scores), 4)
        assert r.action_scores.shape == (len(r.boxes), 80)


def test_truncated_video_yields_what_was_decoded_then_raises(model, tmp_path):
    path = tmp_path / 'cut.mkv'
    write_synthetic_video(path, num_frames=100, fps=25, size=(160, 120), num_people=1)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    results = []
    with pytest.raises(VideoDecodeError) as info:
        for r in detect_video(model, path, HOGPersonDetector(), with_frames=True):
            results.append(r)
    assert 'cut.mkv' in str(info.value) and 'frame' in str(info.value)
    decoded = int(str(info.value).split('frame ')[1].split(' ')[0])
    assert 25 < decoded < 100
    # keyframes inside the decoded part all came out, with every decoded frame
    assert [r.frame_index for r in results] == list(range(0, decoded, 25))
    assert [i for r in results for i, _ in r.frames] == list(range(decoded))


def test_stopping_early_stops_the_decoder(model, tmp_path):
    import threading
    path = tmp_path / 'long.mp4'
    write_synthetic_video(path, num_frames=250, fps=25, size=(96, 64), num_people=1)
    before = threading.active_count()
    gen = detect_video(model, path, HOGPersonDetector(), queue_size=1)
    first = next(gen)
    gen.close()
    assert first.frame_index == 0
    assert threading.active_count() == before


def test_a_failing_person_detector_surfaces_its_error(model, tmp_path):
    path = tmp_path / 'v.mp4'
    write_synthetic_video(path, num_frames=60, fps=25, size=(96, 64), num_people=1)
    calls = []

    def broken(frame, video_id, timestamp):
        calls.append(timestamp)
        raise RuntimeError('detector exploded')

    with pytest.raises(RuntimeError, match='detector exploded'):
        list(detect_video(model, path, broken))
    assert calls == [0.0]  # stopped at the first failure, not retried on later keyframes


def test_same_scores_as_the_validation_dataset(model, mini_ava, mini_ava_movie):
    """Streaming a movie gives the scores the config's own val dataset + pipeline give on
    the same movie file (its ``videos`` layout: same detections, clip sampling, pipeline
    and model), so inference reproduces the validation mAP."""
    from mmengine.dataset import pseudo_collate

    from videomae_det.registry import DATASETS
    ds_cfg = dict(model.cfg.val_dataloader.dataset)
    ds_cfg.update(data_root=str(mini_ava), ann_file='annotations/ava_val_v2.2_min.json',
                  proposal_file='boxes/ava_val_det_person_bbox.json', det_score_thr=0.8,
                  layout=dict(type='videos', dir=str(mini_ava_movie['path'].parent),
                              start_sec=mini_ava_movie['first_sec']))
    dataset = DATASETS.build(ds_cfg)
    expected = {}
    for i in range(len(dataset)):
        with torch.no_grad():
            pred = model.test_step(pseudo_collate([dataset[i]]))[0]
        expected[int(pred.metainfo['timestamp'])] = (pred.pred_bboxes.numpy(),
                                                     pred.pred_scores.numpy())
    detector = BoxesFilePersonDetector(mini_ava / 'boxes' / 'ava_val_det_person_bbox.json',
                                       images_file=mini_ava_movie['val_min_json'],
                                       score_thr=0.8)
    results = {r.timestamp: r for r in detect_video(model, mini_ava_movie['path'], detector,
                                                    time_offset=mini_ava_movie['first_sec'])}
    assert expected
    for timestamp, (boxes, scores) in expected.items():
        r = results[timestamp]
        order = np.lexsort(boxes.T[::-1])
        mine = np.lexsort(r.boxes_norm.T[::-1])
        np.testing.assert_allclose(r.boxes_norm[mine], boxes[order], atol=1e-4)
        # OpenCV (streaming) and decord (dataset) decode the same pixels: float noise only
        np.testing.assert_allclose(r.action_scores[mine], scores[order], atol=1e-5)


@pytest.mark.parametrize('batch_size', [3, 8])
def test_batching_keyframes_gives_the_same_results(model, mini_ava_movie, batch_size,
                                                   monkeypatch):
    """Several keyframes' clips per forward is a speed option: same results, same frames,
    same order as one clip per forward (3 leaves a partial last batch). Scores agree to float
    rounding, not bit for bit: a GEMM over another batch size may take another kernel (CI's
    CPU gave a 1e-7 relative difference in one of 240 scores)."""
    detector = BoxesFilePersonDetector(mini_ava_movie['val_min_json'])
    forwards = []
    step = model.test_step

    def counting_step(data):
        forwards.append(len(data['inputs']))
        return step(data)

    monkeypatch.setattr(model, 'test_step', counting_step)

    def run(size):
        return list(detect_video(model, mini_ava_movie['path'], detector, 1.0, 0.3,
                                 time_offset=mini_ava_movie['first_sec'], with_frames=True,
                                 batch_size=size))

    alone = run(1)
    clips = len(forwards)
    assert forwards == [1] * clips
    forwards.clear()
    batched = run(batch_size)
    assert sum(forwards) == clips and len(forwards) == -(-clips // batch_size)
    assert len(alone) == len(batched) == 8
    assert sum(len(r.boxes) for r in alone) >= 4
    for a, b in zip(alone, batched):
        assert (a.timestamp, a.frame_index, a.actions) == (b.timestamp, b.frame_index, b.actions)
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_allclose(a.action_scores, b.action_scores, rtol=1e-5, atol=1e-7)
        assert [i for i, _ in a.frames] == [i for i, _ in b.frames]


def test_batch_size_below_one_is_refused(model, mini_ava_movie):
    with pytest.raises(ValueError, match='batch_size must be at least 1; got 0'):
        next(detect_video(model, mini_ava_movie['path'], lambda *a, **k: None, batch_size=0))


def test_a_config_stored_in_a_checkpoint_is_never_executed(tiny_config, tiny_checkpoint,
                                                           tmp_path):
    """init_detector(None, ckpt) reads meta['cfg'] as data: a stored config carrying code
    (here: one that would create a file) is refused and the code does not run."""
    from videomae_det.models.weights import ConfigTextError
    marker = tmp_path / 'pwned'
    state = torch.load(tiny_checkpoint, weights_only=True)
    evil = (f'import pathlib\npathlib.Path({str(marker)!r}).write_text("ran")\n'
            + state['meta']['cfg'])
    hidden = state['meta']['cfg'].replace(
        'max_epochs = ', f'x = open({str(marker)!r}, "w").write("ran")\nmax_epochs = ', 1)
    for i, text in enumerate((evil, hidden)):
        path = tmp_path / f'evil{i}.pth'
        torch.save(dict(state_dict=state['state_dict'], meta=dict(cfg=text)), path)
        with pytest.raises(ConfigTextError, match=r'evil\d\.pth.*not .*pass the config file'):
            init_detector(None, path)
        assert not marker.exists()
    # with the config given, the stored text is not even looked at
    model = init_detector(tiny_config, tmp_path / 'evil0.pth')
    assert not marker.exists() and not model.training


def test_variable_frame_rate_video_takes_clips_by_timestamp(model, tmp_path, monkeypatch):
    """On a VFR video (1 s at 25 fps, 2 s at 10 fps, 1 s at 30 fps) keyframes and clip
    frames are those of nearest timestamp; the grey level of each frame tells its index."""
    from videomae_det.apis import inference
    from videomae_det.visualization.synthetic import write_vfr_video
    times = np.r_[np.arange(25) * 0.04, 1.0 + np.arange(20) * 0.1, 3.0 + np.arange(30) / 30]
    frames = np.stack([np.full((64, 80, 3), 3 * i + 10, np.uint8) for i in range(len(times))])
    path = tmp_path / 'phone.mp4'
    write_vfr_video(path, frames, times)

    def index_of(frame):
        return int(round((float(frame.mean()) - 10) / 3))

    seen_clips, seen_keyframes = {}, {}
    real_call = inference.ClipPreparer.__call__

    def spy(self, clip, boxes, scores, video_id, timestamp):
        seen_clips[timestamp] = [index_of(f) for f in clip]
        return real_call(self, clip, boxes, scores, video_id, timestamp)

    def detector(frame, video_id, timestamp):
        seen_keyframes[timestamp] = index_of(frame)
        return np.array([[10., 10., 50., 60.]], np.float32), np.array([0.9], np.float32)

    monkeypatch.setattr(inference.ClipPreparer, '__call__', spy)
    results = list(detect_video(model, path, detector, keyframe_interval=1.0, with_frames=True))
    assert [r.timestamp for r in results] == [0, 1, 2, 3]
    assert [r.frame_index for r in results] == [0, 25, 35, 45]
    assert seen_keyframes == {0: 0, 1: 25, 2: 35, 3: 45}
    spec = inference.clip_spec_of(model.cfg)  # 8 frames 4 apart at 25 fps: 0.16 s steps
    for t, clip in seen_clips.items():
        sampled = t + (np.arange(spec.clip_len) - spec.clip_len // 2) * spec.frame_interval / 25
        expected = [int(np.argmin(np.abs(times - s) - 1e-9 * np.arange(len(times))))
                    for s in sampled]
        assert clip == expected, t
    assert [i for r in results for i, _ in r.frames] == list(range(len(times)))
