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


def write_vfr_video(path: PathLike, frames: np.ndarray, times) -> None:
    """Write a variable-frame-rate H.264 video (mp4/mkv): ``frames`` uint8 ``(N, H, W, 3)``
    RGB shown at ``times`` seconds (strictly increasing, the first 0), the last for the
    median frame gap. Made with the ffmpeg of ``imageio-ffmpeg`` through its concat
    demuxer, which gives each picture its own duration (phone and screen recordings look
    like this); tests use it to check that inference follows timestamps, not frame counts.
    """
    import subprocess
    import tempfile

    from videomae_det.datasets.video_io import ffmpeg_exe
    times = np.asarray(times, np.float64)
    if len(times) != len(frames) or len(times) < 2 or times[0] != 0 or \
            not np.all(np.diff(times) > 0):
        raise ValueError('times: one per frame, at least 2, from 0, strictly increasing')
    durations = np.append(np.diff(times), np.median(np.diff(times)))
    with tempfile.TemporaryDirectory() as tmp:
        lines = ['ffconcat version 1.0']
        for i, (frame, duration) in enumerate(zip(frames, durations)):
            name = f'{i:06d}.png'
            cv2.imwrite(os.path.join(tmp, name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            # framerate: the picture reader's time base (1/25 s by default) would round
            # every timestamp to 40 ms
            lines += [f'file {name}', 'option framerate 1000', f'duration {duration:.6f}']
        # the demuxer drops the last duration unless the last picture is listed again
        lines += [f'file {len(frames) - 1:06d}.png', 'option framerate 1000']
        listing = os.path.join(tmp, 'list.ffconcat')
        with open(listing, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        cmd = [ffmpeg_exe(), '-y', '-loglevel', 'error', '-f', 'concat', '-safe', '0',
               '-i', listing, '-fps_mode', 'passthrough', '-c:v', 'libx264', '-crf', '12',
               '-pix_fmt', 'yuv420p', '-bf', '0', '-frames:v', str(len(frames)),
               os.fspath(path)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f'ffmpeg could not write {path}: {done.stderr.strip()}')
