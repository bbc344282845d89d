"""Synthetic videos of walking people, for inference tests and the speed benchmark.

The figures are filled silhouettes (head, torso, arms, legs) on a light background,
shapes that OpenCV's HOG people detector does fire on, so the whole inference chain (decode
→ person detection → model → drawing) runs on them without any downloaded data.
"""
import os
from typing import List, Tuple, Union

import cv2
import numpy as np

PathLike = Union[str, os.PathLike]

# containers cv2.VideoWriter writes without an external encoder, by extension
FOURCC = {'.mp4': 'mp4v', '.avi': 'MJPG', '.mkv': 'XVID'}


def draw_person(img: np.ndarray, cx: float, top: float, height: float,
                color: Tuple[int, int, int] = (40, 40, 40), phase: float = 0.) -> np.ndarray:
    """Draw a standing/walking silhouette in place; returns its box ``(4,)`` xyxy pixels.

    Args:
        img: uint8 ``(H, W, 3)`` image (any channel order; ``color`` is in it).
        cx, top: horizontal centre and top of the head, pixels.
        height: head-to-feet height, pixels.
        phase: walking phase in radians (swings the legs and arms).
    """
    s = height / 8
    swing = 0.35 * np.sin(phase)

    def pt(x, y):
        return int(round(cx + x * s)), int(round(top + y * s))

    cv2.circle(img, pt(0, 0.6), int(round(s * 0.6)), color, -1)
    cv2.ellipse(img, pt(0, 2.6), (int(round(s * 0.9)), int(round(s * 1.5))), 0, 0, 360, color, -1)
    for side in (-1, 1):
        cv2.line(img, pt(side * 0.8, 1.6), pt(side * (1.4 + swing * side), 4.2), color,
                 max(1, int(round(s * 0.45))))
        cv2.line(img, pt(side * 0.35, 4.0), pt(side * (0.7 + swing * side * 1.5), 8.0), color,
                 max(1, int(round(s * 0.55))))
    return np.array([cx - 1.6 * s, top, cx + 1.6 * s, top + height], np.float32)


def person_tracks(num_frames: int, size: Tuple[int, int], num_people: int = 2,
                  seed: int = 0) -> np.ndarray:
    """Walking tracks ``(num_frames, num_people, 3)``: centre x, top y, height (pixels), each
    person crossing the frame back and forth at their own speed."""
    w, h = size
    rng = np.random.default_rng(seed)
    heights = rng.uniform(0.55, 0.75, num_people) * h
    tops = rng.uniform(0.05, 0.2, num_people) * h
    speeds = rng.uniform(0.5, 1.5, num_people) * w / 200  # pixels per frame
    starts = (np.arange(num_people) + 0.5) / num_people * w
    t = np.arange(num_frames)[:, None]
    span = w * 0.7
    pos = (starts - w * 0.15 + speeds * t) % (2 * span)
    cx = w * 0.15 + np.where(pos < span, pos, 2 * span - pos)
    return np.stack([cx, np.broadcast_to(tops, cx.shape), np.broadcast_to(heights, cx.shape)],
                    axis=-1)


def render_frame(index: int, tracks: np.ndarray, size: Tuple[int, int]) -> Tuple[np.ndarray,
                                                                                   np.ndarray]:
    """Frame ``index`` of a track set -> (uint8 ``(H, W, 3)`` RGB frame, boxes ``(P, 4)``)."""
    w, h = size
    img = np.full((h, w, 3), 205, np.uint8)
    img[:, :, 2] = 215
    boxes = [draw_person(img, x, y, hh, (40 + 30 * p, 40, 60), phase=index * 0.3)
             for p, (x, y, hh) in enumerate(tracks[index])]
    return img, np.stack(boxes)


def write_synthetic_video(path: PathLike, num_frames: int, fps: float = 25.,
                          size: Tuple[int, int] = (640, 360), num_people: int = 2,
                          seed: int = 0) -> np.ndarray:
    """Write a video of walking silhouettes with OpenCV's encoders (mp4v in .mp4, MJPG in
    .avi, XVID in .mkv).

    Returns:
        the people's boxes, float32 ``(num_frames, num_people, 4)`` xyxy pixels.
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FOURCC:
        raise ValueError(f'{path}: choose one of {sorted(FOURCC)}')
    tracks = person_tracks(num_frames, size, num_people, seed)
    writer = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(*FOURCC[ext]), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {path}')
    all_boxes: List[np.ndarray] = []
    try:
        for i in range(num_frames):
            frame, boxes = render_frame(i, tracks, size)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            all_boxes.append(boxes)
    finally:
        writer.release()
    return np.stack(all_boxes).astype(np.float32)
