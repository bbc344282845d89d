"""Person detectors: HOG mechanics and a real run, boxes files, Faster R-CNN weights."""
import json

import numpy as np
import pytest
import torch

from videomae_det.apis.person_detectors import (BoxesFilePersonDetector,
                                                FasterRCNNPersonDetector, HOGPersonDetector,
                                                build_person_detector, hog_postprocess)
from videomae_det.visualization.synthetic import draw_person


def test_hog_postprocess_thresholds_merges_scales_and_sorts():
    rects = np.array([[10, 10, 20, 40],    # margin 2.0
                      [11, 11, 20, 40],    # overlaps the first, weaker: merged by NMS
                      [60, 5, 20, 40],     # margin 0.5
                      [30, 30, 20, 40],    # margin -1: below the threshold
                      [70, 20, 20, 40]])   # runs past the frame: clipped
    margins = np.array([2.0, 1.5, 0.5, -1.0, 1.0])
    boxes, scores = hog_postprocess(rects, margins, scale=2.0, img_shape=(100, 150),
                                    score_thr=0.5, nms_iou=0.45)
    sig = lambda m: 1 / (1 + np.exp(-m))  # noqa: E731
    np.testing.assert_allclose(scores, sig(np.array([2.0, 1.0, 0.5])), rtol=1e-6)
    # x2 scaled, then clipped to the 150-pixel-wide frame
    np.testing.assert_allclose(boxes, [[20, 20, 60, 100], [140, 40, 150, 100],
                                       [120, 10, 150, 90]], atol=1e-4)
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    empty_boxes, empty_scores = hog_postprocess(rects, np.full(5, -3.), 1.0, (100, 150))
    assert empty_boxes.shape == (0, 4) and empty_scores.shape == (0,)
    with pytest.raises(ValueError, match='margins'):
        hog_postprocess(rects, margins[:2], 1.0, (100, 150))


def _assert_each_person_found(truth, boxes):
    """Each drawn person lies inside one detection (HOG's boxes carry its window's margin
    around the body, so they are larger than the tight box: up to ~3x its area)."""
    t, b = torch.from_numpy(truth), torch.from_numpy(boxes)
    lt = torch.max(t[:, None, :2], b[None, :, :2])
    rb = torch.min(t[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_t = (t[:, 2:] - t[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    found = (inter / area_t[:, None] > 0.9) & (area_b[None, :] < 3 * area_t[:, None])
    assert found.any(dim=1).all(), (truth, boxes)
    assert len(set(found.float().argmax(dim=1).tolist())) == len(truth)  # distinct boxes


def test_hog_finds_drawn_people_on_a_real_size_frame():
    frame = np.full((360, 640, 3), 205, np.uint8)
    truth = np.stack([draw_person(frame, 180, 50, 250), draw_person(frame, 470, 70, 230)])
    boxes, scores = HOGPersonDetector()(frame)
    assert np.all(np.diff(scores) <= 0) and np.all(scores >= 0.5)
    _assert_each_person_found(truth, boxes)
    # an empty scene gives nothing
    assert len(HOGPersonDetector()(np.full((360, 640, 3), 205, np.uint8))[0]) == 0


def test_hog_upscales_small_frames_and_scales_boxes_back():
    frame = np.full((120, 160, 3), 205, np.uint8)
    truth = draw_person(frame, 80, 10, 100)
    boxes, _ = HOGPersonDetector()(frame)
    _assert_each_person_found(truth[None], boxes)
    assert boxes[:, 2].max() <= 160 and boxes[:, 3].max() <= 120


def _write(path, text):
    path.write_text(text)
    return path


def test_csv_boxes_one_per_person_normalised_to_the_frame(tmp_path):
    path = _write(tmp_path / 'gt.csv',
                  'movA,0902,0.1,0.2,0.5,0.9,12,0\n'
                  'movA,0902,0.1,0.2,0.5,0.9,79,0\n'   # same person, another action
                  'movA,0902,0.6,0.1,0.9,0.8,11,1\n'
                  'movA,0903\n'                        # annotated keyframe, nobody
                  'movB,0902,0.0,0.0,1.0,1.0,12,0\n')
    det = BoxesFilePersonDetector(path)
    frame = np.zeros((100, 200, 3), np.uint8)
    boxes, scores = det(frame, video_id='movA', timestamp=902.0)
    np.testing.assert_allclose(sorted(boxes.tolist()), [[20, 20, 100, 90], [120, 10, 180, 80]],
                               atol=1e-4)
    np.testing.assert_array_equal(scores, [1, 1])
    assert len(det(frame, video_id='movA', timestamp=903)[0]) == 0
    assert len(det(frame, video_id='movA', timestamp=904)[0]) == 0
    assert det.has_video('movB') and not det.has_video('movC')


def test_csv_errors_name_file_and_line(tmp_path):
    with pytest.raises(ValueError, match=r'bad\.csv, line 2'):
        BoxesFilePersonDetector(_write(tmp_path / 'bad.csv',
                                       'm,1,0.1,0.1,0.2,0.2,1,0\nm,1,0.1,x,0.2,0.2,1,0\n'))
    with pytest.raises(ValueError, match='.csv, .json or .pkl'):
        BoxesFilePersonDetector(_write(tmp_path / 'boxes.txt', ''))


def test_boxes_outside_the_frame_are_errors_not_people(tmp_path):
    # pixel coordinates in a normalised CSV: clipped, they would be zero-area "people"
    with pytest.raises(ValueError, match=r'px\.csv, line 1: .*outside \[0, 1\]'):
        BoxesFilePersonDetector(_write(tmp_path / 'px.csv', 'm,1,10,20,110,220,1,0\n'))
    with pytest.raises(ValueError, match=r'flat\.json: entry 0: bbox .* has no area'):
        BoxesFilePersonDetector(_write(tmp_path / 'flat.json', json.dumps(
            [dict(video_id='m', timestamp=1, bbox=[10, 10, 0, 40])])))
    det = BoxesFilePersonDetector(_write(tmp_path / 'far.json', json.dumps(
        [dict(video_id='m', timestamp=1, bbox=[700, 10, 30, 40])])))
    with pytest.raises(ValueError, match=r'far\.json: a box of m at 1 s lies outside'):
        det(np.zeros((360, 640, 3), np.uint8), video_id='m', timestamp=1)


def test_pyslowfast_csv_and_mmaction2_pickle_carry_scores(tmp_path):
    import pickle
    csv = _write(tmp_path / 'ava_val_predicted_boxes.csv',
                 'movA,0902,0.1,0.2,0.5,0.9,,0.95\nmovA,0902,0.6,0.1,0.9,0.8,,0.4\n')
    pkl = tmp_path / 'proposals.pkl'
    pkl.write_bytes(pickle.dumps({'movA,0902': np.array([[0.1, 0.2, 0.5, 0.9, 0.95],
                                                         [0.6, 0.1, 0.9, 0.8, 0.4]])},
                                 protocol=2))
    frame = np.zeros((100, 200, 3), np.uint8)
    for path in (csv, pkl):
        det = BoxesFilePersonDetector(path, score_thr=0.5)
        boxes, scores = det(frame, video_id='movA', timestamp=902)
        np.testing.assert_allclose(boxes, [[20, 20, 100, 90]], atol=1e-4)
        np.testing.assert_allclose(scores, [0.95], rtol=1e-6)


MIN_JSON = dict(
    images=[dict(id=902, movie='movA', timestamp=902, width=160, height=120),
            dict(id=903, movie='movA', timestamp=903, width=160, height=120)],
    annotations=[dict(id=1, image_id=902, bbox=[16, 12, 32, 60], action_ids=[12]),
                 dict(id=2, image_id=902, bbox=[80, 0, 40, 120], action_ids=[11])])


def test_min_json_boxes_rescaled_to_the_frame(tmp_path):
    path = _write(tmp_path / 'val_min.json', json.dumps(MIN_JSON))
    det = BoxesFilePersonDetector(path)
    # the video is twice the stored-clip size: boxes scale with it
    boxes, scores = det(np.zeros((240, 320, 3), np.uint8), video_id='movA', timestamp=902)
    np.testing.assert_allclose(sorted(boxes.tolist()), [[32, 24, 96, 144], [160, 0, 240, 240]])
    assert len(det(np.zeros((240, 320, 3), np.uint8), video_id='movA', timestamp=903)[0]) == 0


def test_coco_results_resolved_through_images_file_with_threshold(tmp_path):
    images = _write(tmp_path / 'val_min.json', json.dumps(MIN_JSON))
    results = _write(tmp_path / 'det.json', json.dumps([
        dict(image_id=902, bbox=[16, 12, 32, 60], score=0.95, category_id=1),
        dict(image_id=902, bbox=[80, 0, 40, 120], score=0.5, category_id=1)]))
    det = BoxesFilePersonDetector(results, images_file=images, score_thr=0.8)
    boxes, scores = det(np.zeros((120, 160, 3), np.uint8), video_id='movA', timestamp=902)
    np.testing.assert_allclose(boxes, [[16, 12, 48, 72]])
    np.testing.assert_allclose(scores, [0.95])
    with pytest.raises(ValueError, match='images_file'):
        BoxesFilePersonDetector(results)


def test_results_list_with_video_id_in_pixels_of_the_video(tmp_path):
    path = _write(tmp_path / 'mine.json', json.dumps([
        dict(video_id='clip', timestamp=1.5, bbox=[10, 20, 30, 40], score=0.7)]))
    det = BoxesFilePersonDetector(path)
    boxes, scores = det(np.zeros((360, 640, 3), np.uint8), video_id='clip', timestamp=1.5)
    np.testing.assert_allclose(boxes, [[10, 20, 40, 60]])
    np.testing.assert_allclose(scores, [0.7])
    with pytest.raises(ValueError, match=r'mine2\.json: entry 0'):
        BoxesFilePersonDetector(_write(tmp_path / 'mine2.json', json.dumps([dict(bbox=[1, 2])])))


def test_build_person_detector_checks_its_inputs():
    assert isinstance(build_person_detector('hog'), HOGPersonDetector)
    with pytest.raises(ValueError, match='weights'):
        build_person_detector('fasterrcnn')
    with pytest.raises(ValueError, match='boxes'):
        build_person_detector('file')
    with pytest.raises(ValueError, match='unknown'):
        build_person_detector('yolo')


@pytest.mark.slow
def test_faster_rcnn_loads_user_weights_safely(tmp_path):
    from torchvision.models.detection import fasterrcnn_resnet50_fpn
    torch.manual_seed(0)
    model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    path = tmp_path / 'frcnn.pth'
    torch.save(model.state_dict(), path)
    det = FasterRCNNPersonDetector(path, score_thr=0.0, min_size=160)
    boxes, scores = det(np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8))
    assert boxes.shape[1:] == (4,) and boxes.shape[0] == scores.shape[0]
    assert np.all(np.diff(scores) <= 0)
    # a file that is not this model's state dict is refused with the file named
    torch.save({'weight': torch.zeros(3)}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='other.pth'):
        FasterRCNNPersonDetector(tmp_path / 'other.pth')
