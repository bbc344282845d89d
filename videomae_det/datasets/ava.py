"""AVA dataset: one sample per keyframe, a clip of frames centred on it and its person boxes.

Boxes: xyxy pixels of the stored video throughout loading (the ``*_min.json`` stores
[x, y, w, h] pixels of the stored clips); transforms then move them to network-input pixels.

Clip sampling: ``clip_len`` frames ``frame_interval`` apart, keyframe at position
``clip_len // 2`` (for 16×4: offsets −32 .. +28). ``frame_interval`` counts frames at
``sample_fps`` (25 by default, the rate of the stored clips), so a 16×4 clip spans 2.56 s
whatever the storage layout; for other layouts the nearest stored frame to each sampling
time is decoded. Before the first or after the last stored frame of a movie the edge frame
repeats.

Storage layouts (``layout=``), paths relative to ``data_root``:

``clips`` (default)
    ``<clip_dir>/<movie>/<sec>.mp4``: 1-second clips at ``clip_fps`` (25); frame ``k`` of
    ``<sec>.mp4`` is time ``sec + k / clip_fps``. The first and last stored seconds of a
    movie are found by listing its folder.
``frames``
    ``<frame_dir>/<movie>/img_%05d.jpg`` at ``frame_fps`` (30), numbered from 1, the folder
    starting at movie second ``frame_start_sec`` (900): the frame of time ``τ`` is
    ``round((τ − 900) · 30) + 1``, so keyframe ``t`` is frame ``(t − 900) · 30 + 1`` (the
    mmaction2/SlowFast convention for AVA frames cut from the 15-minute segments).
``videos``
    ``<video_dir>/<movie>.<ext>``: one video per movie whose time 0 is movie second
    ``video_start_sec`` (0 for the raw AVA movies, 900 for the 15-minute cuts).
"""
import contextlib
import io
import logging
import os
import warnings
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from videomae_det.formats import AVAFormatError, load_min_json, read_person_detections
from videomae_det.datasets.video_io import VideoDecodeError, VideoReader
from videomae_det.registry import DATASETS


NUM_CLASSES = 80  # AVA action ids run 1..80; column i of a multi-hot vector is id i + 1


class MissingClipError(FileNotFoundError):
    """A stored clip/frame/video needed for a sample is absent."""


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


class _Layout:
    """Finds and decodes the frames of one storage layout. Subclasses fill ``missing`` and
    ``load``; directory listings are cached per process."""

    def __init__(self, root: str, num_threads: int):
        self.root = root
        self.num_threads = num_threads
        self._listing: Dict[str, Dict[str, str]] = {}

    def _list(self, folder: str) -> Dict[str, str]:
        if folder not in self._listing:
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                names = []
            self._listing[folder] = {os.path.splitext(n)[0]: n for n in names
                                     if not n.startswith('.')}
        return self._listing[folder]

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

    @staticmethod
    def _raise_missing(movie, sec, path):
        raise MissingClipError(f'missing video data for movie {movie!r}, second {sec}: '
                               f'expected {path}')


class ClipsLayout(_Layout):

    def __init__(self, root, num_threads, clip_fps: int = 25):
        super().__init__(root, num_threads)
        self.clip_fps = clip_fps

    def _movie_seconds(self, movie: str) -> List[int]:
        listing = self._list(os.path.join(self.root, movie))
        return sorted(int(k) for k, n in listing.items() if k.isdigit() and n.endswith('.mp4'))

    def _plan(self, movie, timestamp, times):
        seconds = self._movie_seconds(movie)
        if not seconds:
            return None
        return clip_frame_indices(times, seconds[0], seconds[-1], self.clip_fps), set(seconds)

    def _path(self, movie, sec):
        return os.path.join(self.root, movie, f'{sec}.mp4')

    def needed(self, movie, timestamp, times):
        plan = self._plan(movie, timestamp, times)
        if plan is None:
            return [(timestamp, os.path.join(self.root, movie) + os.sep)]
        return [(sec, self._path(movie, sec)) for sec in sorted({s for s, _ in plan[0]})]

    def load(self, movie, timestamp, times):
        plan = self._plan(movie, timestamp, times)
        if plan is None:
            self._raise_missing(movie, timestamp, os.path.join(self.root, movie) + os.sep)
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


class FramesLayout(_Layout):

    def __init__(self, root, num_threads, frame_fps: float = 30.0, start_sec: float = 900.0,
                 tmpl: str = 'img_{:05d}.jpg'):
        super().__init__(root, num_threads)
        self.frame_fps, self.start_sec, self.tmpl = frame_fps, start_sec, tmpl

    def _numbers(self, movie, times):
        listing = self._list(os.path.join(self.root, movie))
        if not listing:
            return None, listing
        # frames are numbered 1..N; the count bounds the movie end
        numbers = nearest_frames(times, self.frame_fps, self.start_sec, 0, len(listing) - 1) + 1
        return numbers, listing

    def needed(self, movie, timestamp, times):
        numbers, _ = self._numbers(movie, times)
        if numbers is None:
            return [(timestamp, os.path.join(self.root, movie) + os.sep)]
        return [(self._second(n), os.path.join(self.root, movie, self.tmpl.format(n)))
                for n in sorted(set(numbers.tolist()))]

    def _second(self, number: int) -> int:
        return int(self.start_sec + (number - 1) // self.frame_fps)

    def load(self, movie, timestamp, times):
        numbers, _ = self._numbers(movie, times)
        if numbers is None:
            self._raise_missing(movie, timestamp, os.path.join(self.root, movie) + os.sep)
        cache = {}
        for n in set(numbers.tolist()):
            path = os.path.join(self.root, movie, self.tmpl.format(n))
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                if not os.path.isfile(path):
                    self._raise_missing(movie, self._second(n), path)
                raise VideoDecodeError(path, 'not a readable image')
            cache[n] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return np.stack([cache[n] for n in numbers.tolist()])


class VideosLayout(_Layout):

    def __init__(self, root, num_threads, start_sec: float = 0.0):
        super().__init__(root, num_threads)
        self.start_sec = start_sec

    def _path(self, movie):
        name = self._list(self.root).get(movie)
        return os.path.join(self.root, name) if name else None

    def needed(self, movie, timestamp, times):
        path = self._path(movie) or os.path.join(self.root, f'{movie}.<ext>')
        return [(timestamp, path)]

    def load(self, movie, timestamp, times):
        path = self._path(movie)
        if path is None:
            self._raise_missing(movie, timestamp, os.path.join(self.root, f'{movie}.<ext>'))
        reader = VideoReader(path, num_threads=self.num_threads)
        idx = nearest_frames(times, reader.fps, self.start_sec, 0, reader.num_frames - 1)
        return reader.read(idx)


def make_layout(layout: str, data_root: str = '', clip_dir: str = 'clips/trainval',
                clip_fps: int = 25, frame_dir: str = 'frames', frame_fps: float = 30.0,
                frame_start_sec: float = 900.0, frame_tmpl: str = 'img_{:05d}.jpg',
                video_dir: str = 'videos', video_start_sec: float = 0.0,
                num_threads: int = 1) -> _Layout:
    """The frame finder/decoder of a storage layout (module docstring); folders are relative
    to ``data_root`` unless absolute."""
    def join(p):
        return p if os.path.isabs(p) else os.path.join(data_root, p)

    if layout == 'clips':
        return ClipsLayout(join(clip_dir), num_threads, clip_fps)
    if layout == 'frames':
        return FramesLayout(join(frame_dir), num_threads, frame_fps, frame_start_sec, frame_tmpl)
    if layout == 'videos':
        return VideosLayout(join(video_dir), num_threads, video_start_sec)
    raise ValueError(f"layout must be 'clips', 'frames' or 'videos'; got {layout!r}")


def _clip_to_image(boxes: np.ndarray, width: float, height: float) -> Tuple[np.ndarray, int]:
    """Clip xyxy pixel boxes (M, 4) to the image; returns (clipped, how many changed)."""
    clipped = boxes.copy()
    clipped[:, 0::2] = np.clip(clipped[:, 0::2], 0, width)
    clipped[:, 1::2] = np.clip(clipped[:, 1::2], 0, height)
    changed = int(np.any(np.abs(clipped - boxes) > 1e-6, axis=1).sum())
    return clipped, changed


@DATASETS.register_module()
class AVAVideoDataset(BaseDataset):
    """AVA-format spatio-temporal action detection, one sample per keyframe.

    Each sample (before the pipeline) is a dict with ``imgs`` uint8 (T, H, W, 3) RGB,
    ``movie``, ``timestamp``, ``img_id``, ``ori_shape`` = ``img_shape`` = (H, W) of the stored
    video, ``proposals`` float64 (M, 4) xyxy stored-video pixels, ``proposal_scores`` (M,)
    and, when boxes come from the ground truth, ``gt_labels`` float32 (M, 80) multi-hot
    (column ``i`` = AVA id ``i + 1``).

    Args:
        ann_file: ``*_min.json`` (relative to ``data_root`` unless absolute).
        data_root: dataset root, e.g. ``data/ava`` or ``data/mini_ava``.
        proposal_file: person detections (COCO results JSON); when given, they replace the
            ground-truth boxes (validation/test), keeping those with score ≥ ``det_score_thr``.
        det_score_thr: detection score threshold.
        pipeline: transforms (dicts or callables).
        test_mode: mmengine test mode (no re-fetching of failed samples).
        clip_len, frame_interval: T frames, ``frame_interval`` apart at ``sample_fps``.
        layout: ``'clips'`` | ``'frames'`` | ``'videos'`` (module docstring).
        clip_dir, clip_fps: ``clips`` layout folder (under ``data_root``) and frame rate.
        frame_dir, frame_fps, frame_start_sec, frame_tmpl: ``frames`` layout.
        video_dir, video_start_sec: ``videos`` layout.
        skip_missing: drop samples whose stored video is missing (counted in the log)
            instead of raising; while training, a sample that fails to decode is also
            replaced by another one.
        num_threads: decoder threads per read (1 suits DataLoader workers).
    """

    METAINFO = dict(num_classes=NUM_CLASSES)

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 proposal_file: Optional[str] = None,
                 det_score_thr: float = 0.8,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 clip_len: int = 16,
                 frame_interval: int = 4,
                 sample_fps: float = 25.0,
                 layout: str = 'clips',
                 clip_dir: str = 'clips/trainval',
                 clip_fps: int = 25,
                 frame_dir: str = 'frames',
                 frame_fps: float = 30.0,
                 frame_start_sec: float = 900.0,
                 frame_tmpl: str = 'img_{:05d}.jpg',
                 video_dir: str = 'videos',
                 video_start_sec: float = 0.0,
                 skip_missing: bool = False,
                 num_threads: int = 1,
                 **kwargs):
        self.clip_len, self.frame_interval, self.sample_fps = clip_len, frame_interval, sample_fps
        self.det_score_thr = det_score_thr
        self.skip_missing = skip_missing
        self.layout = layout
        self._layout = make_layout(layout, data_root, clip_dir, clip_fps, frame_dir, frame_fps,
                                   frame_start_sec, frame_tmpl, video_dir, video_start_sec,
                                   num_threads)
        if proposal_file and not os.path.isabs(proposal_file):
            proposal_file = os.path.join(data_root, proposal_file)
        self.proposal_file = proposal_file
        self.num_skipped_decode = 0  # samples replaced at load time (skip_missing, training)
        self.num_skipped_missing = 0  # keyframes dropped at start-up (skip_missing)
        super().__init__(ann_file=ann_file, data_root=data_root, pipeline=pipeline,
                         test_mode=test_mode, **kwargs)

    # ------------------------------------------------------------------ annotations
    def load_data_list(self) -> List[dict]:
        from pycocotools.coco import COCO
        data = load_min_json(self.ann_file, require_actions=self.proposal_file is None)
        if self.proposal_file is None:
            for i, ann in enumerate(data['annotations']):
                bad = [a for a in ann['action_ids'] if not 1 <= a <= NUM_CLASSES]
                if bad:
                    raise AVAFormatError(self.ann_file, None, f'annotation #{i} (id '
                                         f'{ann.get("id")}) has action id(s) {bad} outside '
                                         f'1..{NUM_CLASSES}')
        coco = COCO()
        coco.dataset = data
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            coco.createIndex()

        detections = (read_person_detections(self.proposal_file, data, self.ann_file)
                      if self.proposal_file else None)
        if detections is not None and detections.skipped:
            print_log(f'{detections.skipped} detection(s) in {self.proposal_file} are on '
                      f'keyframes absent from {self.ann_file}; ignored', logger='current',
                      level=logging.WARNING)
        n_clipped = n_empty = n_no_box = 0
        data_list = []
        images = sorted(coco.imgs.values(), key=lambda im: (str(im['movie']), int(im['timestamp'])))
        for img in images:
            h, w = int(img['height']), int(img['width'])
            if detections is not None:
                boxes = detections.boxes.get(img['id'], np.zeros((0, 4)))
                scores = detections.scores.get(img['id'], np.zeros(0))
                keep = scores >= self.det_score_thr
                boxes, scores, labels = boxes[keep], scores[keep], None
            else:
                anns = coco.imgToAnns.get(img['id'], [])
                boxes = np.array([a['bbox'] for a in anns], np.float64).reshape(-1, 4)
                boxes[:, 2:] += boxes[:, :2]
                scores = np.ones(len(anns))
                labels = np.zeros((len(anns), NUM_CLASSES), np.float32)
                for j, a in enumerate(anns):
                    labels[j, np.asarray(a['action_ids'], np.int64) - 1] = 1
            boxes, changed = _clip_to_image(boxes, w, h)
            n_clipped += changed
            keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            n_empty += int((~keep).sum())
            if not keep.any():
                n_no_box += 1
                continue
            info = dict(img_id=img['id'], movie=str(img['movie']), timestamp=int(img['timestamp']),
                        ori_shape=(h, w), img_shape=(h, w), proposals=boxes[keep],
                        proposal_scores=scores[keep])
            if labels is not None:
                info['gt_labels'] = labels[keep]
            data_list.append(info)

        source = self.proposal_file or self.ann_file
        if n_clipped:
            warnings.warn(f'{n_clipped} box(es) in {source} extend outside their image; '
                          f'clipped to the image')
        if n_empty:
            warnings.warn(f'{n_empty} box(es) in {source} have no area inside the image; dropped')
        print_log(f'{os.path.basename(self.ann_file)}: {len(data_list)} keyframes with boxes '
                  f'({n_no_box} without boxes skipped)', logger='current')
        if not data_list and data['images']:
            if detections is not None:
                top = max((float(s.max()) for s in detections.scores.values() if len(s)),
                          default=None)
                raise AVAFormatError(self.proposal_file, None, (
                    f'no keyframe of {self.ann_file} keeps a detection at det_score_thr='
                    f'{self.det_score_thr} ({len(detections)} detections on its keyframes, '
                    f'highest score {top}); lower det_score_thr or check the file'))
            raise AVAFormatError(self.ann_file, None, 'no keyframe has a person box')
        if not os.path.isdir(self._layout.root):
            raise FileNotFoundError(
                f'{self.layout} folder {self._layout.root} not found (data_root '
                f'{self.data_root!r}); see README "Data" to prepare it')
        if self.skip_missing:
            data_list = self._drop_missing(data_list)
        return data_list

    def _drop_missing(self, data_list: List[dict]) -> List[dict]:
        kept, dropped, examples = [], 0, []
        for info in data_list:
            missing = self._layout.missing(info['movie'], info['timestamp'], self._times(info))
            if missing:
                dropped += 1
                if len(examples) < 3:
                    examples.append(f'{info["movie"]} {info["timestamp"]}: {missing[0][1]}')
            else:
                kept.append(info)
        self.num_skipped_missing = dropped
        if dropped:
            print_log(f'skip_missing: {dropped} of {len(data_list)} keyframes skipped because '
                      f'their video is missing, e.g. {"; ".join(examples)}', logger='current',
                      level=logging.WARNING)
        return kept

    # ------------------------------------------------------------------ frames
    def _times(self, info: dict) -> np.ndarray:
        return sampling_times(info['timestamp'], self.clip_len, self.frame_interval,
                              self.sample_fps)

    def load_frames(self, info: dict) -> np.ndarray:
        """uint8 (clip_len, H, W, 3) RGB frames of the clip around ``info``'s keyframe."""
        return self._layout.load(info['movie'], info['timestamp'], self._times(info))

    def prepare_data(self, idx: int):
        results = self.get_data_info(idx)
        try:
            results['imgs'] = self.load_frames(results)
        except (MissingClipError, VideoDecodeError) as e:
            if self.skip_missing and not self.test_mode:
                self.num_skipped_decode += 1
                print_log(f'skip_missing: sample {idx} replaced ({e}); '
                          f'{self.num_skipped_decode} so far in this worker', logger='current',
                          level=logging.WARNING)
                return None  # BaseDataset fetches another sample
            raise
        return self.pipeline(results)
