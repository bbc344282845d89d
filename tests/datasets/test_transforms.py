"""Transforms keep every box on the pixels it marked: draw filled boxes into a clip, run
resize / crop / flip (alone and chained), and check the pixels under the moved boxes."""
import numpy as np
import pytest
import torch

from videomae_det.datasets.transforms import (BoxJitter, ColorJitter, Flip, PackActionInputs,
                                              RandomCrop, RepeatKeyframe, Resize, WidenBoxes)

T, H, W = 4, 64, 96
RED, BLUE, GREY = (230, 20, 20), (20, 20, 230), (90, 140, 90)


def _results(boxes=((20, 10, 50, 40), (60, 30, 90, 60)), colours=(RED, BLUE)):
    imgs = np.empty((T, H, W, 3), np.uint8)
    imgs[:] = GREY
    for (x1, y1, x2, y2), c in zip(boxes, colours):
        imgs[:, y1:y2, x1:x2] = c
    m = len(boxes)
    labels = np.zeros((m, 80), np.float32)
    labels[np.arange(m), np.arange(m) + 10] = 1  # box i has AVA id 11 + i
    return dict(imgs=imgs, proposals=np.array(boxes, np.float64), rois=np.array(boxes, np.float64),
                proposal_scores=np.arange(1, m + 1) / 10.0, gt_labels=labels, img_shape=(H, W),
                ori_shape=(H, W), movie='m', timestamp=902)


def _assert_box_on_colour(imgs, box, colour, margin=2):
    """Pixels well inside ``box`` have ``colour``; a ring just outside (within the image)
    has not."""
    x1, y1, x2, y2 = box
    top, left = int(np.ceil(y1)) + margin, int(np.ceil(x1)) + margin
    inner = imgs[:, top:int(y2) - margin, left:int(x2) - margin]
    assert inner.size and np.abs(inner.astype(int) - colour).max() <= 12
    h, w = imgs.shape[1:3]
    ring = []
    if x1 - margin - 1 >= 0:
        ring.append(imgs[:, int(y1) + margin:int(y2) - margin, int(x1) - margin - 1])
    if x2 + margin + 1 < w:
        ring.append(imgs[:, int(y1) + margin:int(y2) - margin, int(np.ceil(x2)) + margin])
    for r in ring:
        assert np.abs(r.astype(int) - colour).max(axis=-1).min() > 40


def _check_all(results, colours=(RED, BLUE)):
    for box, colour in zip(results['proposals'], colours):
        _assert_box_on_colour(results['imgs'], box, colour)
    assert results['img_shape'] == results['imgs'].shape[1:3]


def test_resize_short_side():
    out = Resize(scale=32)(_results())
    assert out['imgs'].shape == (T, 32, 48, 3) and out['img_shape'] == (32, 48)
    np.testing.assert_allclose(out['proposals'][0], [10, 5, 25, 20])
    np.testing.assert_allclose(out['rois'], out['proposals'])
    assert out['scale_factor'] == (0.5, 0.5)
    _check_all(out)


def test_resize_rounding_of_the_long_side():
    # 64x96 -> short side 45: long side 67.5, rounded (ours, mmaction2) or floored (VAD)
    assert Resize(scale=45)(_results())['img_shape'] == (45, 68)
    out = Resize(scale=45, rounding='floor')(_results())
    assert out['imgs'].shape[1:3] == (45, 67) and out['img_shape'] == (45, 67)
    assert out['scale_factor'] == (67 / 96, 45 / 64)
    with pytest.raises(ValueError, match='rounding'):
        Resize(rounding='ceil')


def test_flip_moves_boxes_with_pixels():
    out = Flip(flip_ratio=1.0)(_results())
    assert out['flip'] is True
    np.testing.assert_allclose(out['proposals'][0], [W - 50, 10, W - 20, 40])
    _check_all(out)
    assert Flip(flip_ratio=0.0)(_results())['flip'] is False


def test_random_crop_clips_and_drops_boxes_with_their_labels():
    np.random.seed(0)
    for _ in range(20):
        res = _results()
        out = RandomCrop(size=(40, 40))(res)
        assert out['imgs'].shape == (T, 40, 40, 3) and out['img_shape'] == (40, 40)
        x0, y0, _, _ = out['crop_bbox']
        kept = out['gt_labels'].argmax(1) - 10  # which original boxes survived, in order
        assert len(kept) == len(out['proposals']) == len(out['rois']) == len(out['proposal_scores'])
        np.testing.assert_allclose(out['proposal_scores'], (kept + 1) / 10.0)
        original = np.array([(20, 10, 50, 40), (60, 30, 90, 60)], float)[kept]
        expected = np.clip(original - [x0, y0, x0, y0], 0, 40)
        np.testing.assert_allclose(out['proposals'], expected)
        for box, i in zip(out['proposals'], kept):
            if (box[2] - box[0]) > 6 and (box[3] - box[1]) > 6:
                _assert_box_on_colour(out['imgs'], box, (RED, BLUE)[i])


def test_random_crop_rejects_when_no_box_survives():
    res = _results(boxes=((0, 0, 4, 4),), colours=(RED,))
    np.random.seed(1)
    assert RandomCrop(size=(20, 20), min_box_size=5, max_tries=3)(res) is None


def test_chained_training_geometry():
    np.random.seed(3)
    for _ in range(10):
        out = _results()
        for t in (Resize(scale=48), RandomCrop(size=40), Flip(flip_ratio=0.5)):
            out = t(out)
        kept = out['gt_labels'].argmax(1) - 10
        for box, i in zip(out['proposals'], kept):
            if (box[2] - box[0]) > 6 and (box[3] - box[1]) > 6:
                _assert_box_on_colour(out['imgs'], box, (RED, BLUE)[i])


def test_box_jitter_ranges_and_clipping():
    np.random.seed(0)
    res = _results(boxes=((20, 10, 50, 40),), colours=(RED,))
    deltas = []
    for _ in range(300):
        out = BoxJitter()(dict(res))
        np.testing.assert_array_equal(out['proposals'], res['proposals'])
        deltas.append((out['rois'][0] - res['proposals'][0]) / [30, 30, 30, 30])
    d = np.array(deltas)
    assert d[:, 0].min() >= -0.2 - 1e-9 and d[:, 0].max() <= 0.1 + 1e-9
    assert d[:, 2].min() >= -0.1 - 1e-9 and d[:, 2].max() <= 0.2 + 1e-9
    assert d[:, 1].min() >= -0.1 - 1e-9 and d[:, 1].max() <= 0.05 + 1e-9
    assert d[:, 3].min() >= -0.05 - 1e-9 and d[:, 3].max() <= 0.1 + 1e-9
    assert d[:, 0].min() < -0.15 and d[:, 2].max() > 0.15  # the ranges are actually used
    edge = BoxJitter()(_results(boxes=((0, 0, 96, 64),), colours=(RED,)))
    assert edge['rois'].min() >= 0 and edge['rois'][0, 2] <= W and edge['rois'][0, 3] <= H


def test_widen_boxes():
    out = WidenBoxes()(_results(boxes=((20, 10, 50, 50),), colours=(RED,)))
    np.testing.assert_allclose(out['rois'], [[18.5, 9.0, 51.5, 51.0]])
    np.testing.assert_allclose(out['proposals'], [[20, 10, 50, 50]])


def test_color_jitter_is_one_transform_per_clip():
    np.random.seed(0)
    res = _results()
    out = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.05)(dict(res))
    assert out['imgs'].dtype == np.uint8
    assert not np.array_equal(out['imgs'], res['imgs'])
    assert all(np.array_equal(out['imgs'][0], f) for f in out['imgs'])  # frames stay identical
    ident = ColorJitter(0, 0, 0)(dict(res))
    assert np.abs(ident['imgs'].astype(int) - res['imgs']).max() <= 1


def test_repeat_keyframe():
    res = _results()
    res['imgs'] = np.stack([np.full((H, W, 3), i, np.uint8) for i in range(T)])
    out = RepeatKeyframe()(res)
    assert out['imgs'].shape == (T, H, W, 3) and (out['imgs'] == T // 2).all()


def test_pack_action_inputs():
    packed = PackActionInputs()(Flip(flip_ratio=1.0)(_results()))
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, T, H, W)
    assert inputs[0, 0, 20, W - 30] == RED[0]  # channel-first, flipped pixels
    assert sample.proposals.dtype == torch.float32 and sample.proposals.shape == (2, 4)
    assert sample.rois.shape == (2, 4) and sample.gt_labels.shape == (2, 80)
    assert sample.movie == 'm' and sample.timestamp == 902 and sample.img_shape == (H, W)
    bare = PackActionInputs()(dict(imgs=np.zeros((T, H, W, 3), np.uint8)))
    assert 'proposals' not in bare['data_samples']


def test_pack_rejects_float_frames():
    with pytest.raises(ValueError, match='uint8'):
        PackActionInputs()(dict(imgs=np.zeros((T, H, W, 3), np.float32)))
