"""Unlabeled video clips for masked-video pretraining (VideoMAE, arXiv:2203.12602).

Two layouts:

- ``layout='videos'``: every video file under ``data_root/data_prefix['video']`` (searched
  recursively; ``.mp4 .avi .mkv .mov .webm``). One sample per video per epoch; training
  draws a random ``clip_len``-frame window at stride ``frame_interval`` (the official
  recipe: 16 frames at stride 4), test mode takes the centred window. Videos shorter than
  the window repeat their last frame.
- ``layout='clips'``: the AVA clip store ``data_root/clips/trainval/<movie>/<sec>.mp4``
  (1-second clips at ``clip_fps``). One sample per stored second; the window is centred on
  that second's first frame and assembled from the neighbouring clips exactly as
  ``AVAVideoDataset`` assembles a keyframe's clip (its ``ClipsLayout``).

``movie_list`` (a list of names or a CSV/text file whose first comma-separated field per
line is a movie id, e.g. an AVA annotation CSV) restricts the samples to those movies
(``layout='videos'`` matches the file stem). This is how mini-AVA pretraining uses its own
*train* movies only.

Each sample is ``dict(inputs=uint8 Tensor (3, T, H, W) RGB, data_samples=ActionDataSample)``
with metainfo only (``movie``, ``timestamp``, ``img_shape``, ``ori_shape``): there are no
labels. The default pipeline is :class:`VideoMultiScaleCrop` (crop + resize to a square),
a horizontal flip and packing.
"""
import csv
import logging
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from videomae_det.datasets.layouts import build_layout, sampling_times
from videomae_det.datasets.video_io import read_frames, video_info
from videomae_det.registry import DATASETS, TRANSFORMS

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm')


def window_indices(num_frames: int, clip_len: int, frame_interval: int,
                   start: int) -> np.ndarray:
    """Frame indices ``start + k * frame_interval`` (k < clip_len), clamped to the video.

    Clamping repeats the last frame of a video shorter than the window (and the first one
    for a window that starts before 0), so every sample has exactly ``clip_len`` frames.
    """
    idx = start + np.arange(clip_len, dtype=np.int64) * frame_interval
    return np.clip(idx, 0, num_frames - 1)


def read_movie_list(movie_list: Union[str, os.PathLike, Sequence[str]]) -> List[str]:
    """Movie ids from a list, or from a CSV/text file (first comma-separated field per line).

    Raises ``ValueError`` naming the file when it holds no movie id.
    """
    if isinstance(movie_list, (str, os.PathLike)):
        path = Path(movie_list)
        with open(path, newline='', encoding='utf-8') as f:
            movies = [row[0].strip() for row in csv.reader(f) if row and row[0].strip()]
        if not movies:
            raise ValueError(f'movie_list file {path} lists no movie')
        return sorted(set(movies))
    return sorted({str(m) for m in movie_list})


@DATASETS.register_module()
class UnlabeledVideoDataset(BaseDataset):
    """Clips of unlabeled videos for pretraining; no annotation file.

    Args:
        data_root: dataset root (e.g. ``data/mini_ava`` or a folder of videos).
        layout: ``'videos'`` (a folder of video files) or ``'clips'`` (AVA 1-second clips).
        data_prefix: ``dict(video=...)``, the folder under ``data_root`` that holds the
            videos (``'videos'``) or the per-movie clip folders (``'clips'``; default
            ``clips/trainval``).
        movie_list: restrict to these movies (see the module docstring); a relative file
            path is relative to ``data_root``; None = all movies.
        clip_len: frames per sample (T).
        frame_interval: stride between sampled frames, in stored frames.
        clip_fps: frame rate of the stored 1-second clips (``'clips'``; 25 in AVA).
        pipeline: transforms over ``dict(imgs=(T, H, W, 3) uint8, ...)``.
        test_mode: centred, deterministic windows.
    """

    def __init__(self,
                 data_root: str,
                 layout: str = 'videos',
                 data_prefix: Optional[dict] = None,
                 movie_list: Union[str, Sequence[str], None] = None,
                 clip_len: int = 16,
                 frame_interval: int = 4,
                 clip_fps: int = 25,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs):
        if layout not in ('videos', 'clips'):
            raise ValueError(f"layout must be 'videos' or 'clips'; got {layout!r}")
        if clip_len < 1 or frame_interval < 1:
            raise ValueError(
                f'clip_len and frame_interval must be >= 1; got {clip_len}, {frame_interval}')
        self.layout = layout
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.clip_fps = clip_fps
        self._clip_layout = None  # built on first use, in the worker process
        if isinstance(movie_list, (str, os.PathLike)) and not os.path.isabs(movie_list):
            movie_list = os.path.join(data_root, movie_list)  # relative to data_root
        self.movies = None if movie_list is None else read_movie_list(movie_list)
        if data_prefix is None:
            data_prefix = dict(video='clips/trainval' if layout == 'clips' else '')
        super().__init__(
            ann_file='', data_root=data_root, data_prefix=data_prefix,
            pipeline=list(pipeline), test_mode=test_mode, **kwargs)

    # ------------------------------------------------------------------ index
    def load_data_list(self) -> List[dict]:
        root = Path(self.data_prefix['video'])
        if not root.is_dir():
            raise FileNotFoundError(f'unlabeled video folder {root} does not exist')
        entries = self._list_clips(root) if self.layout == 'clips' else self._list_videos(root)
        if not entries:
            which = f' for movies {self.movies}' if self.movies is not None else ''
            raise ValueError(f'no {self.layout} found under {root}{which}')
        return entries

    def _list_videos(self, root: Path) -> List[dict]:
        files = sorted(p for p in root.rglob('*')
                       if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
        if self.movies is not None:
            keep = set(self.movies)
            files = [p for p in files if p.stem in keep]
        return [dict(filename=str(p), movie=p.stem, timestamp=0) for p in files]

    def _list_clips(self, root: Path) -> List[dict]:
        movies = self.movies if self.movies is not None else sorted(
            p.name for p in root.iterdir() if p.is_dir())
        entries, absent = [], []
        for movie in movies:
            seconds = sorted(int(p.stem) for p in (root / movie).glob('*.mp4')
                             if p.stem.isdigit())
            if not seconds:
                absent.append(movie)
            entries += [dict(filename=str(root / movie / f'{sec}.mp4'), movie=movie,
                             timestamp=sec) for sec in seconds]
        if absent and entries:
            # pretraining can use what is there, but say what is not
            print_log(f'{len(absent)} of {len(movies)} listed movies have no clips under '
                      f'{root}, e.g. {absent[:3]}', logger='current', level=logging.WARNING)
        return entries

    # ------------------------------------------------------------------ decoding
    def _decode_video(self, info: dict) -> np.ndarray:
        meta = video_info(info['filename'])
        span = (self.clip_len - 1) * self.frame_interval + 1
        latest = max(meta.num_frames - span, 0)
        start = latest // 2 if self.test_mode else int(np.random.randint(0, latest + 1))
        idx = window_indices(meta.num_frames, self.clip_len, self.frame_interval, start)
        return read_frames(info['filename'], idx)

    def _decode_clips(self, info: dict) -> np.ndarray:
        """Window centred on the first frame of ``<sec>.mp4``, assembled from neighbouring
        clips by the AVA dataset's own clip layout (edge frames repeat at the ends of the
        stored segment; a missing clip inside it raises ``MissingClipError``)."""
        if self._clip_layout is None:
            self._clip_layout = build_layout(dict(type='clips', dir=self.data_prefix['video'],
                                                  fps=self.clip_fps))
        times = sampling_times(info['timestamp'], self.clip_len, self.frame_interval,
                               self.clip_fps)
        return self._clip_layout.load(info['movie'], info['timestamp'], times)

    def prepare_data(self, idx: int) -> dict:
        """Decode sample ``idx`` and run the pipeline over
        ``dict(imgs=uint8 (T, H, W, 3), movie, timestamp, img_shape, ori_shape, filename)``."""
        info = self.get_data_info(idx)
        imgs = self._decode_clips(info) if self.layout == 'clips' else self._decode_video(info)
        h, w = imgs.shape[1:3]
        results = dict(imgs=imgs, movie=info['movie'], timestamp=info['timestamp'],
                       img_shape=(h, w), ori_shape=(h, w), filename=info['filename'])
        return self.pipeline(results)


@TRANSFORMS.register_module()
class VideoMultiScaleCrop(BaseTransform):
    """Multi-scale corner/centre crop, then resize to ``size x size`` (TSN/VideoMAE style).

    The crop's height and width are each ``scale * min(H, W)`` for scales drawn from
    ``scales`` with at most ``max_distort`` steps between the two (so the aspect ratio
    varies a little); a side within 3 pixels of ``size`` snaps to ``size``. The crop sits
    at one of 13 fixed positions (corners, centre, edge midpoints, quarter points) in
    training, at the centre with scale 1 in test mode (``random=False``). The same crop is
    applied to every frame.

    Reads/writes ``imgs`` (uint8 (T, H, W, 3)); updates ``img_shape`` to ``(size, size)``.
    """

    def __init__(self, size: int = 224, scales: Sequence[float] = (1, .875, .75, .66),
                 max_distort: int = 1, random: bool = True):
        self.size = int(size)
        self.scales = tuple(scales)
        self.max_distort = max_distort
        self.random = random

    def _crop_box(self, h: int, w: int, rng) -> Tuple[int, int, int, int]:
        base = min(h, w)
        if not self.random:
            return (w - base) // 2, (h - base) // 2, base, base
        sides = [int(base * s) for s in self.scales]
        sides = [self.size if abs(s - self.size) < 3 else s for s in sides]
        pairs = [(cw, ch) for i, ch in enumerate(sides) for j, cw in enumerate(sides)
                 if abs(i - j) <= self.max_distort]
        cw, ch = pairs[rng.randint(len(pairs))]
        sx, sy = (w - cw) / 4, (h - ch) / 4
        grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0),
                (1, 1), (3, 1), (1, 3), (3, 3)]
        gx, gy = grid[rng.randint(len(grid))]
        return int(gx * sx), int(gy * sy), cw, ch

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        h, w = imgs.shape[1:3]
        x, y, cw, ch = self._crop_box(h, w, np.random)
        crop = imgs[:, y:y + ch, x:x + cw]
        results['imgs'] = np.stack([
            cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
            for f in crop])
        results['img_shape'] = (self.size, self.size)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, scales={self.scales}, '
                f'max_distort={self.max_distort}, random={self.random})')
