"""Drawing action detections on frames: a box per person and, above it, the names and
scores of its top actions.

Frames are uint8 ``(H, W, 3)`` RGB; boxes xyxy in pixels of the frame. Sizes (line width,
font) scale with the frame height so the labels read the same on 360p and 1080p video.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

# distinct, saturated colours (RGB) cycled over the people of a keyframe
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190),
)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text_color(bg: Tuple[int, int, int]) -> Tuple[int, int, int]:
    """Black on light backgrounds, white on dark ones."""
    luma = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]
    return (0, 0, 0) if luma > 140 else (255, 255, 255)


def label_lines(actions: Sequence[Tuple[int, float]], names: Dict[int, str],
                max_actions: int = 3) -> List[str]:
    """``[(action_id, score), ...]`` -> ``['stand 0.91', ...]`` for the first ``max_actions``."""
    return [f'{names.get(a, f"action {a}")} {s:.2f}' for a, s in list(actions)[:max_actions]]


def draw_detections(frame: np.ndarray, boxes: np.ndarray,
                    actions: Sequence[Sequence[Tuple[int, float]]], names: Dict[int, str],
                    max_actions: int = 3, person_scores: Optional[np.ndarray] = None,
                    track_ids: Optional[np.ndarray] = None) -> np.ndarray:
    """Draw boxes and action labels on a copy of ``frame``.

    Args:
        frame: uint8 ``(H, W, 3)`` RGB (not modified).
        boxes: ``(M, 4)`` xyxy pixels of ``frame``.
        actions: per box, ``[(action_id, score), ...]`` highest first.
        names: action id -> name.
        max_actions: labels drawn per box.
        person_scores: optional ``(M,)``; a box without listed actions shows ``person 0.97``.
        track_ids: optional ``(M,)`` track ids: the box is coloured by its track (the same
            colour all along it) and labelled ``#id`` first; ``-1`` = no track.

    Returns:
        the annotated copy, uint8 ``(H, W, 3)`` RGB.
    """
    out = np.ascontiguousarray(frame).copy()
    h, w = out.shape[:2]
    thickness = max(1, round(h / 360))
    font_scale = max(0.3, h / 900)
    (_, text_h), baseline = cv2.getTextSize('Ag', _FONT, font_scale, 1)
    line_h = text_h + baseline + 2
    for i, box in enumerate(np.asarray(boxes, np.float32).reshape(-1, 4)):
        track = int(track_ids[i]) if track_ids is not None and i < len(track_ids) else -1
        color = PALETTE[(track if track >= 0 else i) % len(PALETTE)]
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
        lines = label_lines(actions[i] if i < len(actions) else [], names, max_actions)
        if not lines and person_scores is not None and i < len(person_scores):
            lines = [f'person {float(person_scores[i]):.2f}']
        if track >= 0:
            lines = [f'#{track}'] + lines
        if not lines:
            continue
        # labels stack upwards from the box top, or downwards inside it at the frame top
        top = y1 - line_h * len(lines)
        if top < 0:
            top = max(0, y1)
        fg = _text_color(color)
        for j, line in enumerate(lines):
            (tw, _), _ = cv2.getTextSize(line, _FONT, font_scale, 1)
            ty = top + j * line_h
            tx = min(max(0, x1), max(0, w - tw - 2))
            cv2.rectangle(out, (tx, ty), (tx + tw + 2, ty + line_h), color, -1)
            cv2.putText(out, line, (tx + 1, ty + text_h + 1), _FONT, font_scale, fg, 1,
                        cv2.LINE_AA)
    return out
