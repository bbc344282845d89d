import numpy as np
import pytest
import torch

from videomae_det.structures import (box_areas, clip_boxes, denormalize_boxes, normalize_boxes,
                                     xywh_to_xyxy, xyxy_to_xywh)


@pytest.mark.parametrize('to', [np.asarray, torch.tensor])
def test_xywh_xyxy_round_trip(to):
    xywh = to([[10.0, 20.0, 30.0, 40.0], [0.0, 0.0, 1.0, 2.0]])
    xyxy = xywh_to_xyxy(xywh)
    assert np.allclose(np.asarray(xyxy), [[10, 20, 40, 60], [0, 0, 1, 2]])
    assert np.allclose(np.asarray(xyxy_to_xywh(xyxy)), np.asarray(xywh))


@pytest.mark.parametrize('to', [np.asarray, torch.tensor])
def test_normalize_uses_width_for_x_and_height_for_y(to):
    boxes = to([[32.0, 24.0, 64.0, 48.0]])
    norm = normalize_boxes(boxes, (240, 320))  # (H, W)
    assert np.allclose(np.asarray(norm), [[0.1, 0.1, 0.2, 0.2]])
    assert np.allclose(np.asarray(denormalize_boxes(norm, (240, 320))), np.asarray(boxes))


def test_clip_and_area():
    boxes = np.array([[-5.0, -5.0, 400.0, 100.0]])
    clipped = clip_boxes(boxes, (240, 320))
    assert clipped.tolist() == [[0, 0, 320, 100]]
    assert boxes.tolist() == [[-5.0, -5.0, 400.0, 100.0]]  # input untouched
    assert box_areas(clipped).tolist() == [32000]
    t = clip_boxes(torch.tensor(boxes), (240, 320))
    assert t.tolist() == [[0, 0, 320, 100]]
