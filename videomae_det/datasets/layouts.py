"""Storage layouts of AVA video data: where the frames of a movie's second live, and how to
decode them. A layout is a config dict built by :func:`build_layout` (the one factory the
dataset, ``tools/check_data.py`` and ``tools/data/ava/csv_to_min_json.py`` use)::

    layout=dict(type='clips', dir='clips/trainval', fps=25)
    layout=dict(type='frames', dir='frames', fps=30, start_sec=900,
                template='{movie}/img_{index:05d}.jpg', first_index=1)
    layout=dict(type='videos', dir='videos', start_sec=0)

Folders are relative to the dataset's ``data_root`` unless absolute.

``clips``
    ``<dir>/<movie>/<sec>.mp4``: 1-second clips at ``fps`` (25 in the reference code); frame
    ``k`` of ``<sec>.mp4`` is time ``sec + k / fps``. A movie's first and last stored seconds
    are found by listing its folder.
``frames``
    One image per frame at ``fps``, named by ``template`` (``{movie}`` and ``{index}``; a
    printf ``%06d`` is read as ``{index:06d}``; without ``{movie}`` it is relative to the
    folder ``<dir>/<movie>/``, as mmaction2's ``filename_tmpl``), numbered from
    ``first_index``, the first at
    movie second ``start_sec``: the frame of time ``τ`` is ``round((τ − start_sec) · fps) +
    first_index``. mmaction2 names frames ``{movie}/img_{index:05d}.jpg`` (the default),
    PySlowFast ``{movie}/{movie}_{index:06d}.jpg``; both cut 30 fps from second 900, so
    keyframe ``t`` is frame ``(t − 900) · 30 + 1``, frame ``n`` shows time
    ``900 + (n − 1) / 30``. (mmaction2's ``SampleAVAFrames`` adds ``start_index`` twice and
    reads frame ``(t − 900) · 30 + 2``, 1/30 s later; ``start_sec=900 - 1/30`` reproduces
    that exactly.)
``videos``
    ``<dir>/<movie>.<ext>``: one video per movie whose time 0 is movie second ``start_sec``
    (0 for the raw AVA movies, 900 for the 15-minute cuts).

Every layout also tells a movie's stored frame size (:meth:`StorageLayout.frame_size`) and
its last stored second (:meth:`StorageLayout.last_second`), for the checks that catch a
JSON made for other frames or a truncated cut.
"""
import os
import re
import string
from collections import defaultdict
from typing import Dict, List, Optional, Tuple, Union

import cv2
import numpy as np

from videomae_det.datasets.video_io import VideoDecodeError, VideoReader, video_info


class MissingClipError(FileNotFoundError):
    """A stored clip/frame/video needed for a sample is absent."""


class FrameSizeMismatchError(ValueError):
    """A movie's stored frames differ in size from the ``*_min.json`` width/height its
    boxes are in (the boxes would land in the wrong place: val mAP near 0)."""


def sampling_times(timestamp: float, clip_len: int, frame_interval: int,
                   sample_fps: float) -> np.ndarray:
    """Times (movie seconds) of the ``clip_len`` frames of the clip around keyframe
    ``timestamp``; the keyframe is position ``clip_len // 2``. Shape (clip_len,)."""
    offsets = (np.arange(clip_len) - clip_len // 2) * frame_interval
    return timestamp + offsets / float(sample_fps)


def nearest_frames(times: np.ndarray, fps: float, origin: float = 0.0, first: int = 0,
                   last: Optional[int] = None) -> np.ndarray:
    """Index of the stored frame nearest each time: ``round((τ − origin) · fps)``, clamped to
    ``[first, last]`` (so frames beyond a movie's edges repeat the edge frame)."""
    # +1e-6 keeps exact multiples (the common case) from rounding down through float error
    idx = np.floor((np.asarray(times, np.float64) - origin) * fps + 0.5 + 1e-6).astype(np.int64)
    return np.clip(idx, first, last if last is not None else np.iinfo(np.int64).max)


def clip_frame_indices(times: np.ndarray, first_sec: int, last_sec: int,
                       clip_fps: int = 25) -> List[Tuple[int, int]]:
    """(second, frame within that second's clip) of each time in the ``clips`` layout.

    ``first_sec``/``last_sec``: the movie's first and last stored clips; times outside
    repeat the first frame of ``first_sec`` or the last frame of ``last_sec``.
    """
    glob = nearest_frames(times, clip_fps, 0.0, first_sec * clip_fps,
                          last_sec * clip_fps + clip_fps - 1)
    return [(int(g // clip_fps), int(g % clip_fps)) for g in glob]


class StorageLayout:
    """Finds and decodes the frames of one storage layout. Subclasses fill ``needed``,
    ``load``, ``frame_size`` and ``last_second``; folder listings are cached per process."""

    type = ''

    def __init__(self, root: str, num_threads: int = 1):
        self.root = root
        self.num_threads = num_threads
        self._listing: Dict[str, Dict[str, str]] = {}

    def _list(self, folder: str) -> Dict[str, str]:
        if folder not in self._listing:
            try:
                names = os.listdir(folder)
            except (FileNotFoundError, NotADirectoryError):
                names = []
            self._listing[folder] = {os.path.splitext(n)[0]: n for n in names
                                     if not n.startswith('.')}
        return self._listing[folder]

    def movie_folder(self, movie: str) -> str:
        """The folder holding a movie's data (to report a movie with nothing stored)."""
        return os.path.join(self.root, movie) + os.sep

    def needed(self, movie: str, timestamp: int, times: np.ndarray) -> List[Tuple[int, str]]:
        """[(movie second, path)] of the files the frames at ``times`` come from (the movie's
        folder, ending in a separator, when the movie has no stored data at all)."""
        raise NotImplementedError

    def missing(self, movie: str, timestamp: int, times: np.ndarray) -> List[Tuple[int, str]]:
        """The entries of :meth:`needed` that are absent (by the cached folder listings)."""
        return [(sec, path) for sec, path in self.needed(movie, timestamp, times)
                if os.path.basename(path) not in self._list(os.path.dirname(path)).values()]

    def load(self, movie: str, timestamp: int, times: np.ndarray) -> np.ndarray:
        """uint8 (T, H, W, 3) RGB frames at ``times``."""
        raise NotImplementedError

    def frame_size(self, movie: str) -> Tuple[int, int]:
        """(width, height) of the movie's stored frames (decodes one frame)."""
        raise NotImplementedError

    def last_second(self, movie: str) -> Optional[float]:
        """Movie time (s) of the last stored frame, None when nothing is stored."""
        raise NotImplementedError

    @staticmethod
    def _raise_missing(movie, sec, path):
        raise MissingClipError(f'missing video data for movie {movie!r}, second {sec}: '
                               f'expected {path}')


class ClipsLayout(StorageLayout):
    type = 'clips'

    def __init__(self, root, num_threads=1, fps: int = 25):
        super().__init__(root, num_threads)
        self.fps = int(fps)

    def _movie_seconds(self, movie: str) -> List[int]:
        listing = self._list(os.path.join(self.root, movie))
        return sorted(int(k) for k, n in listing.items() if k.isdigit() and n.endswith('.mp4'))

    def _plan(self, movie, times):
        seconds = self._movie_seconds(movie)
        if not seconds:
            return None
        return clip_frame_indices(times, seconds[0], seconds[-1], self.fps), set(seconds)

    def _path(self, movie, sec):
        return os.path.join(self.root, movie, f'{sec}.mp4')

    def needed(self, movie, timestamp, times):
        plan = self._plan(movie, times)
        if plan is None:
            return [(timestamp, self.movie_folder(movie))]
        return [(sec, self._path(movie, sec)) for sec in sorted({s for s, _ in plan[0]})]

    def load(self, movie, timestamp, times):
        plan = self._plan(movie, times)
        if plan is None:
            self._raise_missing(movie, timestamp, self.movie_folder(movie))
        frames, present = plan
        by_sec: Dict[int, List[Tuple[int, int]]] = defaultdict(list)
        for pos, (sec, k) in enumerate(frames):
            by_sec[sec].append((pos, k))
        out = None
        for sec, items in by_sec.items():
            path = self._path(movie, sec)
            if sec not in present or not os.path.isfile(path):
                self._raise_missing(movie, sec, path)
            reader = VideoReader(path, num_threads=self.num_threads)
            # a clip a frame short (rounding when it was cut) repeats its last frame
            decoded = reader.read([min(k, reader.num_frames - 1) for _, k in items])
            if out is None:
                out = np.empty((len(frames), ) + decoded.shape[1:], np.uint8)
            elif decoded.shape[1:] != out.shape[1:]:
                raise VideoDecodeError(path, f'frame size {decoded.shape[1:3]} differs from '
                                       f'the other clips of the movie {out.shape[1:3]}')
            out[[pos for pos, _ in items]] = decoded
        return out

    def frame_size(self, movie):
        seconds = self._movie_seconds(movie)
        if not seconds:
            self._raise_missing(movie, '?', self.movie_folder(movie))
        info = video_info(self._path(movie, seconds[len(seconds) // 2]))
        return info.width, info.height

    def last_second(self, movie):
        seconds = self._movie_seconds(movie)
        return seconds[-1] + (self.fps - 1) / self.fps if seconds else None


def _frame_template(template: str) -> str:
    """Normalise a frame name template to ``str.format`` fields ``{movie}`` and ``{index}``
    (printf ``%06d`` -> ``{index:06d}``); ValueError naming what is wrong."""
    if '%' in template:
        template = re.sub(r'%(0?\d*)d', r'{index:\1d}', template)
    parts, fields = [], []
    try:
        for literal, field, spec, conv in string.Formatter().parse(template):
            parts.append(literal.replace('{', '{{').replace('}', '}}'))
            if field is not None:
                field = 'index' if field in ('', '0') else field
                fields.append(field)
                parts.append('{' + field + (f'!{conv}' if conv else '')
                             + (f':{spec}' if spec else '') + '}')
    except ValueError as e:
        raise ValueError(f'layout template {template!r}: {e}') from None
    unknown = sorted(set(fields) - {'movie', 'index'})
    if unknown or 'index' not in fields:
        raise ValueError(f'layout template {template!r} must name the frame number as '
                         f'{{index}} (e.g. {{index:05d}}) and may name {{movie}}; '
                         f'unknown field(s) {unknown}')
    template = ''.join(parts)
    if 'movie' not in fields:  # mmaction2's filename_tmpl is relative to the movie's folder
        template = '{movie}/' + template
    if template.format(movie='m', index=1) == template.format(movie='m', index=2):
        raise ValueError(f'layout template {template!r} gives every frame the same name')
    return template


class FramesLayout(StorageLayout):
    type = 'frames'

    def __init__(self, root, num_threads=1, fps: float = 30.0, start_sec: float = 900.0,
                 template: str = '{movie}/img_{index:05d}.jpg', first_index: int = 1):
        super().__init__(root, num_threads)
        self.fps, self.start_sec, self.first_index = float(fps), float(start_sec), int(first_index)
        self.template = _frame_template(template)
        name = os.path.basename(self.template)
        head, _, tail = name.partition('{index')
        self._name_head, self._name_tail = head, tail[tail.index('}') + 1:]

    def _path(self, movie: str, number: int) -> str:
        return os.path.join(self.root, self.template.format(movie=movie, index=number))

    def movie_folder(self, movie):
        return os.path.dirname(self._path(movie, self.first_index)) + os.sep

    def _count(self, movie) -> int:
        """Frames stored for the movie: files of its folder that fit the template."""
        folder = os.path.dirname(self._path(movie, self.first_index))
        head = self._name_head.format(movie=movie)
        tail = self._name_tail.format(movie=movie)
        return sum(1 for n in self._list(folder).values()
                   if n.startswith(head) and n.endswith(tail))

    def _numbers(self, movie, times):
        count = self._count(movie)
        if not count:
            return None
        return nearest_frames(times, self.fps, self.start_sec, 0, count - 1) + self.first_index

    def _second(self, number: int) -> int:
        return int(self.start_sec + (number - self.first_index) // self.fps)

    def needed(self, movie, timestamp, times):
        numbers = self._numbers(movie, times)
        if numbers is None:
            return [(timestamp, self.movie_folder(movie))]
        return [(self._second(n), self._path(movie, n)) for n in sorted(set(numbers.tolist()))]

    def _read(self, movie, n):
        path = self._path(movie, n)
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            if not os.path.isfile(path):
                self._raise_missing(movie, self._second(n), path)
            raise VideoDecodeError(path, 'not a readable image')
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def load(self, movie, timestamp, times):
        numbers = self._numbers(movie, times)
        if numbers is None:
            self._raise_missing(movie, timestamp, self.movie_folder(movie))
        cache = {n: self._read(movie, n) for n in set(numbers.tolist())}
        shapes = {img.shape for img in cache.values()}
        if len(shapes) > 1:
            raise VideoDecodeError(self.movie_folder(movie), f'frames of different sizes '
                                   f'{sorted(s[:2] for s in shapes)}')
        return np.stack([cache[n] for n in numbers.tolist()])

    def frame_size(self, movie):
        count = self._count(movie)
        if not count:
            self._raise_missing(movie, '?', self.movie_folder(movie))
        h, w = self._read(movie, self.first_index + count // 2).shape[:2]
        return w, h

    def last_second(self, movie):
        count = self._count(movie)
        return self.start_sec + (count - 1) / self.fps if count else None


class VideosLayout(StorageLayout):
    type = 'videos'

    def __init__(self, root, num_threads=1, start_sec: float = 0.0):
        super().__init__(root, num_threads)
        self.start_sec = float(start_sec)

    def _path(self, movie):
        name = self._list(self.root).get(movie)
        return os.path.join(self.root, name) if name else None

    def movie_folder(self, movie):
        return os.path.join(self.root, f'{movie}.<ext>')

    def needed(self, movie, timestamp, times):
        return [(timestamp, self._path(movie) or self.movie_folder(movie))]

    def load(self, movie, timestamp, times):
        path = self._path(movie)
        if path is None:
            self._raise_missing(movie, timestamp, self.movie_folder(movie))
        reader = VideoReader(path, num_threads=self.num_threads)
        idx = nearest_frames(times, reader.fps, self.start_sec, 0, reader.num_frames - 1)
        return reader.read(idx)

    def frame_size(self, movie):
        path = self._path(movie)
        if path is None:
            self._raise_missing(movie, '?', self.movie_folder(movie))
        info = video_info(path)
        return info.width, info.height

    def last_second(self, movie):
        path = self._path(movie)
        if path is None:
            return None
        info = video_info(path)
        return self.start_sec + (info.num_frames - 1) / info.fps


LAYOUTS = {'clips': (ClipsLayout, dict(dir='clips/trainval', fps=25)),
           'frames': (FramesLayout, dict(dir='frames', fps=30.0, start_sec=900.0,
                                         template='{movie}/img_{index:05d}.jpg',
                                         first_index=1)),
           'videos': (VideosLayout, dict(dir='videos', start_sec=0.0))}


def layout_config(layout: Union[str, dict, None]) -> dict:
    """The full config dict of a layout (defaults filled in); ValueError naming a bad type
    or key."""
    if layout is None:
        layout = 'clips'
    if isinstance(layout, str):
        layout = dict(type=layout)
    if not isinstance(layout, dict) or 'type' not in layout:
        raise ValueError(f"layout must be a dict with a 'type' ('clips', 'frames' or "
                         f"'videos'); got {layout!r}")
    kind = layout['type']
    if kind not in LAYOUTS:
        raise ValueError(f"layout type must be 'clips', 'frames' or 'videos'; got {kind!r}")
    defaults = LAYOUTS[kind][1]
    unknown = sorted(set(layout) - set(defaults) - {'type'})
    if unknown:
        raise ValueError(f'layout {kind!r}: unknown key(s) {unknown}; allowed: '
                         f'{sorted(defaults)}')
    return dict(type=kind, **{k: layout.get(k, v) for k, v in defaults.items()})


def build_layout(layout: Union[str, dict, None], data_root: str = '',
                 num_threads: int = 1) -> StorageLayout:
    """The layout object of a config dict (module docstring); ``dir`` is relative to
    ``data_root`` unless absolute."""
    cfg = layout_config(layout)
    cls = LAYOUTS[cfg.pop('type')][0]
    folder = cfg.pop('dir')
    root = folder if os.path.isabs(folder) or not data_root else os.path.join(data_root, folder)
    return cls(root, num_threads, **cfg)


def layout_dir(layout: Union[str, dict, None], data_root: str = '') -> str:
    """The folder of a layout config (for path checks before anything is built)."""
    folder = layout_config(layout)['dir']
    return folder if os.path.isabs(folder) or not data_root else os.path.join(data_root, folder)
