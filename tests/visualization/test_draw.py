"""Drawing boxes and action labels."""
import numpy as np

from videomae_det.visualization import PALETTE, draw_detections, label_lines

NAMES = {12: 'stand', 80: 'watch (a person)'}


def test_label_lines_format_and_limit():
    assert label_lines([(12, 0.912), (80, 0.5), (1, 0.4)], NAMES, max_actions=2) == \
        ['stand 0.91', 'watch (a person) 0.50']
    assert label_lines([(3, 0.7)], NAMES) == ['action 3 0.70']


def test_boxes_and_labels_are_drawn_on_a_copy():
    frame = np.full((360, 640, 3), 128, np.uint8)
    boxes = np.array([[100, 150, 200, 340], [400, 20, 500, 200]], np.float32)
    out = draw_detections(frame, boxes, [[(12, 0.9)], []], NAMES,
                          person_scores=np.array([1.0, 0.7]))
    assert (frame == 128).all()  # input untouched
    assert out.shape == frame.shape and out.dtype == np.uint8
    # box edges in each person's palette colour
    assert tuple(out[250, 100]) == PALETTE[0] and tuple(out[100, 500]) == PALETTE[1]
    # labels sit above their boxes; the box without actions gets a person label
    assert (out[138:150, 100:180] != 128).any(axis=-1).mean() > 0.5
    assert (out[8:20, 400:470] != 128).any(axis=-1).mean() > 0.5
    # a box at the very top gets its label inside, below the top edge
    top = draw_detections(frame, np.array([[10, 0, 200, 100]]), [[(12, 0.9)]], NAMES)
    assert (top[2:12, 12:60] != 128).any(axis=-1).mean() > 0.5
    # nothing drawn far from the boxes
    assert (out[300:, 250:380] == 128).all()


def test_no_boxes_returns_the_frame_unchanged():
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)
    out = draw_detections(frame, np.zeros((0, 4)), [], NAMES)
    np.testing.assert_array_equal(out, frame)
