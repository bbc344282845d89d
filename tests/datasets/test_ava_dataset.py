"""AVAVideoDataset: clip frame indices (movie edges included) in all three storage layouts,
labels and detections from the JSON files, and clear handling of bad input."""
import json

import cv2
import numpy as np
import pytest

from videomae_det.datasets import AVAVideoDataset, PackActionInputs
from videomae_det.datasets.ava import MissingClipError, clip_frame_indices, sampling_times
from videomae_det.datasets.layouts import FrameSizeMismatchError
from videomae_det.formats import AVAFormatError, AVAGroundTruth, build_min_json
from videomae_det.datasets.video_io import write_video

W, H = 96, 64
MOVIE = '-m0vie_id01'  # YouTube-like id with a leading dash, as real AVA has
SECONDS = range(900, 906)  # stored clips 900..905


def _code(n: int) -> np.ndarray:
    """A frame showing the bits of ``n`` as 8 black/white bars (robust to compression)."""
    frame = np.zeros((H, W, 3), np.uint8)
    for b in range(8):
        if (n >> b) & 1:
            frame[:, b * 12:(b + 1) * 12] = 255
    return frame


def _decode(frame: np.ndarray) -> int:
    return sum(int(frame[H // 2, b * 12 + 6].mean() > 127) << b for b in range(8))


def _min_json(path, keyframes, boxes_xyxy_norm=((0.1, 0.2, 0.5, 0.9),), actions=(12, 79)):
    gt = AVAGroundTruth(keyframes=[(MOVIE, t) for t in keyframes],
                        persons={(MOVIE, t): [(b, i, list(actions))
                                              for i, b in enumerate(boxes_xyxy_norm)]
                                 for t in keyframes})
    data = build_min_json(gt, {MOVIE: (W, H)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return data


@pytest.fixture(scope='module')
def clips_root(tmp_path_factory):
    """Clips 900..905 s of one movie; frame k of <sec>.mp4 shows (sec − 900)·25 + k."""
    root = tmp_path_factory.mktemp('ava')
    for sec in SECONDS:
        first = (sec - 900) * 25
        write_video(root / 'clips/trainval' / MOVIE / f'{sec}.mp4',
                    np.stack([_code(first + k) for k in range(25)]))
    _min_json(root / 'annotations/train_min.json', [900, 902, 905])
    return root


def test_sampling_times_centre_the_keyframe():
    times = sampling_times(902, 16, 4, 25.0)
    assert times.shape == (16,) and times[8] == 902
    assert times[0] == pytest.approx(902 - 32 / 25) and times[-1] == pytest.approx(902 + 28 / 25)


def test_clip_frame_indices_pure():
    idx = clip_frame_indices(sampling_times(902, 16, 4, 25.0), 900, 1000)
    assert idx[8] == (902, 0)  # keyframe = first frame of its clip
    assert idx[0] == (900, 18) and idx[7] == (901, 21) and idx[15] == (903, 3)
    # at the movie start the first stored frame repeats
    start = clip_frame_indices(sampling_times(900, 16, 4, 25.0), 900, 1000)
    assert start[:8] == [(900, 0)] * 8 and start[8] == (900, 0) and start[9] == (900, 4)
    end = clip_frame_indices(sampling_times(1000, 16, 4, 25.0), 900, 1000)
    assert end[8] == (1000, 0) and end[-1] == (1000, 24) and end[-2] == (1000, 24)


@pytest.mark.parametrize('timestamp', [900, 902, 905])
def test_clips_layout_decodes_the_right_frames(clips_root, timestamp):
    ds = AVAVideoDataset('annotations/train_min.json', data_root=str(clips_root), clip_len=8,
                         frame_interval=4)
    info = next(ds.get_data_info(i) for i in range(len(ds))
                if ds.get_data_info(i)['timestamp'] == timestamp)
    frames = ds.load_frames(info)
    assert frames.shape == (8, H, W, 3) and frames.dtype == np.uint8
    expected = np.clip((timestamp - 900) * 25 + (np.arange(8) - 4) * 4, 0, len(SECONDS) * 25 - 1)
    assert [_decode(f) for f in frames] == expected.tolist()


def test_sample_offset_takes_the_frame_after_as_vad_does(clips_root):
    ds = AVAVideoDataset('annotations/train_min.json', data_root=str(clips_root), clip_len=8,
                         frame_interval=4, sample_offset=0.04)
    info = next(ds.get_data_info(i) for i in range(len(ds))
                if ds.get_data_info(i)['timestamp'] == 902)
    expected = (902 - 900) * 25 + (np.arange(8) - 4) * 4 + 1
    assert [_decode(f) for f in ds.load_frames(info)] == expected.tolist()


def test_frames_layout_mmaction_convention(tmp_path):
    """30 fps JPEG folders: keyframe t is img_{(t − 900)·30 + 1}; neighbours are the nearest
    30 fps frames to the 25 fps sampling times; folder ends repeat."""
    folder = tmp_path / 'frames' / MOVIE
    folder.mkdir(parents=True)
    n_frames = 4 * 30  # seconds 900..903
    for n in range(1, n_frames + 1):
        cv2.imwrite(str(folder / f'img_{n:05d}.jpg'), _code(n % 256))
    _min_json(tmp_path / 'ann.json', [901, 903])
    ds = AVAVideoDataset('ann.json', data_root=str(tmp_path), layout='frames', clip_len=8,
                         frame_interval=4)
    for i, t in enumerate([901, 903]):
        frames = ds.load_frames(ds.get_data_info(i))
        times = t + (np.arange(8) - 4) * 4 / 25
        expected = np.clip(np.floor((times - 900) * 30 + 0.5 + 1e-6).astype(int) + 1, 1, n_frames)
        assert expected[4] == (t - 900) * 30 + 1
        assert [_decode(f) for f in frames] == expected.tolist()


def test_videos_layout_seeks_by_time(tmp_path):
    # a whole "movie" file whose time 0 is movie second 900 (a 15-minute cut)
    write_video(tmp_path / 'videos' / f'{MOVIE}.mp4', np.stack([_code(n) for n in range(150)]),
                fps=30)
    _min_json(tmp_path / 'ann.json', [902])
    ds = AVAVideoDataset('ann.json', data_root=str(tmp_path), clip_len=8, frame_interval=4,
                         layout=dict(type='videos', dir='videos', start_sec=900))
    frames = ds.load_frames(ds.get_data_info(0))
    times = 902 + (np.arange(8) - 4) * 4 / 25
    assert [_decode(f) for f in frames] == np.floor((times - 900) * 30 + 0.5).astype(int).tolist()


def test_labels_boxes_and_metainfo(clips_root):
    ds = AVAVideoDataset('annotations/train_min.json', data_root=str(clips_root), clip_len=8,
                         pipeline=[PackActionInputs()])
    out = ds[1]
    sample = out['data_samples']
    assert out['inputs'].shape == (3, 8, H, W)
    assert sample.movie == MOVIE and sample.timestamp == 902
    assert sample.img_shape == (H, W) and sample.ori_shape == (H, W)
    np.testing.assert_allclose(sample.proposals.numpy(), [[0.1 * W, 0.2 * H, 0.5 * W, 0.9 * H]],
                               rtol=1e-6)
    assert sample.gt_labels.shape == (1, 80)
    assert sample.gt_labels[0].nonzero().flatten().tolist() == [11, 78]  # ids 12 and 79
    assert sample.proposal_scores.tolist() == [1.0]


def test_detections_above_threshold_replace_ground_truth(clips_root, tmp_path):
    data = json.loads((clips_root / 'annotations/train_min.json').read_text())
    ids = [img['id'] for img in data['images']]  # keyframes 900, 902, 905
    dets = [dict(image_id=ids[0], bbox=[1, 2, 30, 40], score=0.95, category_id=1),
            dict(image_id=ids[0], bbox=[5, 5, 10, 10], score=0.5, category_id=1),
            dict(image_id=ids[1], bbox=[5, 5, 10, 10], score=0.79, category_id=1),
            dict(image_id=ids[2], bbox=[60, 30, 50, 50], score=0.85, category_id=1)]
    det_file = tmp_path / 'dets.json'
    det_file.write_text(json.dumps(dets))
    with pytest.warns(UserWarning, match='1 box'):  # the last box leaves the 96-px image
        ds = AVAVideoDataset('annotations/train_min.json', data_root=str(clips_root),
                             proposal_file=str(det_file), test_mode=True)
    assert [ds.get_data_info(i)['timestamp'] for i in range(len(ds))] == [900, 905]  # 902 empty
    first, last = ds.get_data_info(0), ds.get_data_info(1)
    np.testing.assert_allclose(first['proposals'], [[1, 2, 31, 42]])
    np.testing.assert_allclose(first['proposal_scores'], [0.95])
    assert 'gt_labels' not in first
    np.testing.assert_allclose(last['proposals'], [[60, 30, W, H]])  # clipped


def test_box_outside_image_warns_once_with_count(tmp_path, clips_root):
    data = _min_json(tmp_path / 'ann.json', [902, 903],
                     boxes_xyxy_norm=((-0.1, 0.2, 0.5, 1.2), (0.2, 0.2, 0.4, 0.4)))
    (tmp_path / 'ann.json').write_text(json.dumps(data))
    with pytest.warns(UserWarning) as record:
        ds = AVAVideoDataset(str(tmp_path / 'ann.json'), data_root=str(clips_root))
    messages = [str(r.message) for r in record if 'outside' in str(r.message)]
    assert len(messages) == 1 and messages[0].startswith('2 box(es)')
    box = ds.get_data_info(0)['proposals'][0]
    np.testing.assert_allclose(box, [0, 0.2 * H, 0.5 * W, H])


def test_missing_clip_error_names_movie_second_and_path(clips_root, tmp_path):
    root = tmp_path / 'copy'
    for sec in (900, 901, 903):  # 902 is missing
        dst = root / 'clips/trainval' / MOVIE / f'{sec}.mp4'
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes((clips_root / 'clips/trainval' / MOVIE / f'{sec}.mp4').read_bytes())
    _min_json(root / 'ann.json', [901, 903])
    ds = AVAVideoDataset('ann.json', data_root=str(root), clip_len=8)
    ds[0]  # keyframe 901 needs 900 and 901 only
    with pytest.raises(MissingClipError) as err:
        ds[1]  # keyframe 903 starts at 902.36 s
    msg = str(err.value)
    assert MOVIE in msg and 'second 902' in msg and f'{MOVIE}/902.mp4' in msg

    skipping = AVAVideoDataset('ann.json', data_root=str(root), clip_len=8, skip_missing=True)
    assert len(skipping) == 1 and skipping.num_skipped_missing == 1
    assert skipping.get_data_info(0)['timestamp'] == 901


def test_corrupt_json_names_file_and_position(tmp_path, clips_root):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [\n  {"id": 1,}\n]}')
    with pytest.raises(AVAFormatError, match=r'bad\.json, line 2: invalid JSON at column 12'):
        AVAVideoDataset(str(bad), data_root=str(clips_root))
    incomplete = tmp_path / 'incomplete.json'
    incomplete.write_text(json.dumps(dict(images=[dict(id=1, movie=MOVIE, timestamp=902)])))
    with pytest.raises(AVAFormatError,
                       match=r"image #0 \(id 1\) lacks key\(s\) \['width', 'height'\]"):
        AVAVideoDataset(str(incomplete), data_root=str(clips_root))


def test_skip_missing_replaces_undecodable_sample_while_training(clips_root, tmp_path):
    root = tmp_path / 'copy'
    for sec in SECONDS:
        dst = root / 'clips/trainval' / MOVIE / f'{sec}.mp4'
        dst.parent.mkdir(parents=True, exist_ok=True)
        data = (clips_root / 'clips/trainval' / MOVIE / f'{sec}.mp4').read_bytes()
        dst.write_bytes(data[:len(data) // 3] if sec == 905 else data)  # 905 truncated
    _min_json(root / 'ann.json', [901, 905])
    strict = AVAVideoDataset('ann.json', data_root=str(root), clip_len=8)
    with pytest.raises(Exception, match='905.mp4'):
        strict[1]
    ds = AVAVideoDataset('ann.json', data_root=str(root), clip_len=8, skip_missing=True,
                         pipeline=[PackActionInputs()])
    out = ds[1]  # replaced by the other (good) keyframe
    assert out['data_samples'].timestamp == 901 and ds.num_skipped_decode >= 1


def test_frames_layout_missing_frame(tmp_path):
    folder = tmp_path / 'frames' / MOVIE
    folder.mkdir(parents=True)
    for n in range(1, 91):  # seconds 900..902
        if n != 36:
            cv2.imwrite(str(folder / f'img_{n:05d}.jpg'), _code(n))
    _min_json(tmp_path / 'ann.json', [901])
    ds = AVAVideoDataset('ann.json', data_root=str(tmp_path), layout='frames', clip_len=8,
                         frame_interval=2)
    times = sampling_times(901, 8, 2, 25.0)
    assert 36 in (np.floor((times - 900) * 30 + 0.5).astype(int) + 1)
    with pytest.raises(MissingClipError, match=rf"{MOVIE}.*second 901.*img_00036\.jpg"):
        ds.load_frames(ds.get_data_info(0))


def test_bad_boxes_duplicate_ids_and_missing_root(tmp_path, clips_root):
    data = _min_json(tmp_path / 'ann.json', [902])
    data['annotations'][0]['bbox'] = [1, 2, 3]
    (tmp_path / 'ann.json').write_text(json.dumps(data))
    with pytest.raises(AVAFormatError,
                       match=r'annotation #0 \(id 1\): bbox must be 4 finite numbers'):
        AVAVideoDataset(str(tmp_path / 'ann.json'), data_root=str(clips_root))
    data = _min_json(tmp_path / 'ann.json', [902])
    data['images'].append(dict(data['images'][0]))
    (tmp_path / 'ann.json').write_text(json.dumps(data))
    with pytest.raises(AVAFormatError, match='appears twice'):
        AVAVideoDataset(str(tmp_path / 'ann.json'), data_root=str(clips_root))
    _min_json(tmp_path / 'ann.json', [902])
    with pytest.raises(FileNotFoundError, match=r'clips folder .*nowhere/clips/trainval not found'):
        AVAVideoDataset(str(tmp_path / 'ann.json'), data_root=str(tmp_path / 'nowhere'))


# --------------------------------------------------------------------------- issue 13
def test_pyslowfast_frame_folders_template_holds_the_movie(tmp_path):
    """PySlowFast: frames/<movie>/<movie>_%06d.jpg, 30 fps from second 900, numbered from 1."""
    folder = tmp_path / 'frames' / MOVIE
    folder.mkdir(parents=True)
    for n in range(1, 3 * 30 + 1):  # seconds 900..902
        cv2.imwrite(str(folder / f'{MOVIE}_{n:06d}.jpg'), _code(n % 256))
    (folder / 'Thumbs.db').write_text('not a frame')  # ignored when counting frames
    _min_json(tmp_path / 'ann.json', [901])
    ds = AVAVideoDataset('ann.json', data_root=str(tmp_path), clip_len=8, frame_interval=4,
                         layout=dict(type='frames', dir='frames', fps=30, start_sec=900,
                                     template='{movie}/{movie}_%06d.jpg'))
    frames = ds.load_frames(ds.get_data_info(0))
    times = 901 + (np.arange(8) - 4) * 4 / 25
    expected = np.clip(np.floor((times - 900) * 30 + 0.5 + 1e-6).astype(int) + 1, 1, 90)
    assert expected[4] == 31 and [_decode(f) for f in frames] == expected.tolist()


@pytest.mark.parametrize('layout,reason', [
    (dict(type='frame'), "layout type must be 'clips', 'frames' or 'videos'"),
    (dict(type='frames', frame_dir='x'), "unknown key(s) ['frame_dir']"),
    (dict(type='frames', template='{movie}/img.jpg'), 'must name the frame number'),
    (dict(dir='clips'), "must be a dict with a 'type'"),
])
def test_layout_dict_errors_name_the_key(tmp_path, layout, reason):
    _min_json(tmp_path / 'ann.json', [901])
    with pytest.raises(ValueError) as info:
        AVAVideoDataset('ann.json', data_root=str(tmp_path), layout=layout)
    assert reason in str(info.value)


def test_frames_of_another_size_than_the_json_name_the_movie(clips_root, tmp_path):
    """Clips decoded at 96x64 against a JSON written for 192x128: the boxes would be in the
    wrong place (val mAP ~0 with exit 0); now an error naming the movie."""
    gt = AVAGroundTruth(keyframes=[(MOVIE, 902)],
                        persons={(MOVIE, 902): [((0.1, 0.2, 0.5, 0.9), 0, [12])]})
    (tmp_path / 'ann.json').write_text(json.dumps(build_min_json(gt, {MOVIE: (2 * W, 2 * H)})))
    ds = AVAVideoDataset(str(tmp_path / 'ann.json'), data_root=str(clips_root), clip_len=8)
    with pytest.raises(FrameSizeMismatchError, match=rf'movie {MOVIE}: stored frames under .* '
                                                    rf'are {W}x{H} but .*ann.json gives '
                                                    rf'{2 * W}x{2 * H}'):
        ds[0]


def _val_json(root, keyframes=(902, 905)):
    return _min_json(root / 'annotations/val_min.json', list(keyframes))


def test_proposal_file_mmaction2_pickle_and_pyslowfast_csv(clips_root, tmp_path):
    import pickle
    _val_json(tmp_path)
    props = {f'{MOVIE},0902': np.array([[0.1, 0.2, 0.5, 0.9, 0.95], [0, 0, 0.1, 0.1, 0.3]],
                                       np.float32),
             f'{MOVIE},0905': np.array([[0.5, 0.5, 1.0, 1.0, 0.85]], np.float32),
             'otherMovie1,0902': np.array([[0.1, 0.1, 0.2, 0.2, 0.9]], np.float32)}
    pkl = tmp_path / 'ava_dense_proposals_val.FAIR.recall_93.9.pkl'
    pkl.write_bytes(pickle.dumps(props, protocol=2))
    csv = tmp_path / 'ava_val_predicted_boxes.csv'
    csv.write_text(f'{MOVIE},0902,0.1,0.2,0.5,0.9,,0.95\n{MOVIE},0902,0.0,0.0,0.1,0.1,,0.3\n'
                   f'{MOVIE},0905,0.5,0.5,1.0,1.0,,0.85\n')
    for proposals in (pkl, csv):
        ds = AVAVideoDataset(str(tmp_path / 'annotations/val_min.json'),
                             data_root=str(clips_root), proposal_file=str(proposals),
                             det_score_thr=0.8, test_mode=True, clip_len=8)
        assert len(ds) == 2
        info = ds.get_data_info(0)
        np.testing.assert_allclose(info['proposals'], [[0.1 * W, 0.2 * H, 0.5 * W, 0.9 * H]],
                                   rtol=1e-5)
        np.testing.assert_allclose(info['proposal_scores'], [0.95], rtol=1e-6)
        assert 'gt_labels' not in info


def test_det_keep_best_keeps_a_keyframes_best_box_below_the_threshold(clips_root, tmp_path):
    """mmaction2's rule: threshold = min(det_score_thr, the keyframe's best score)."""
    _val_json(tmp_path)
    dets = tmp_path / 'dets.csv'
    dets.write_text(f'{MOVIE},0902,0.1,0.2,0.5,0.9,,0.95\n{MOVIE},0902,0.0,0.0,0.1,0.1,,0.3\n'
                    f'{MOVIE},0905,0.5,0.5,1.0,1.0,,0.6\n{MOVIE},0905,0.1,0.1,0.3,0.3,,0.4\n')
    kwargs = dict(data_root=str(clips_root), proposal_file=str(dets), det_score_thr=0.9,
                  test_mode=True, clip_len=8)
    plain = AVAVideoDataset(str(tmp_path / 'annotations/val_min.json'), **kwargs)
    assert len(plain) == 1  # 905 has no box at 0.9
    ds = AVAVideoDataset(str(tmp_path / 'annotations/val_min.json'), det_keep_best=True,
                         **kwargs)
    assert len(ds) == 2
    np.testing.assert_allclose(ds.get_data_info(0)['proposal_scores'], [0.95], rtol=1e-6)
    np.testing.assert_allclose(ds.get_data_info(1)['proposal_scores'], [0.6], rtol=1e-6)


def test_no_detection_left_at_the_threshold_is_a_clear_error(clips_root, tmp_path):
    _val_json(tmp_path)
    dets = tmp_path / 'dets.csv'
    dets.write_text(f'{MOVIE},0902,0.1,0.2,0.5,0.9,,0.5\n')
    with pytest.raises(AVAFormatError, match=r'dets.csv: no keyframe of .* keeps a detection '
                                             r'at det_score_thr=0.8 .*highest score 0.5'):
        AVAVideoDataset(str(tmp_path / 'annotations/val_min.json'), data_root=str(clips_root),
                        proposal_file=str(dets), det_score_thr=0.8, test_mode=True)
