"""Running a trained detector on a video of one's own.

``init_detector`` builds the model from its config and loads a checkpoint safely;
``detect_video`` streams a video and yields, for every keyframe, the person boxes with
their action scores (one per class of the model's label map) and top actions.

How ``detect_video`` keeps memory bounded and the model busy: one background thread
decodes the video front to back, keeps only the frames that a pending keyframe's clip
needs (about the clip's span, ~2.6 s for 16×4 clips), runs the person detector on each
keyframe and the config's test pipeline on its clip, and hands finished inputs to the
caller's thread through a bounded queue; the caller's thread runs only the model. Decoding
and detection of the next keyframes overlap the model's forward pass (torch, OpenCV and
the decoder release the GIL).
"""
import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Deque, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import print_log
from torch import nn

from videomae_det.action_classes import ActionClasses
from videomae_det.apis.sources import LatestFrames, describe_source, open_source
from videomae_det.apis.video_stream import (ClipScheduler, Keyframe, VideoStream,
                                            keyframe_schedule)
from videomae_det.assets import AVA_LABEL_MAP
from videomae_det.formats import read_label_map
from videomae_det.datasets.video_io import VideoDecodeError
from videomae_det.models.weights import (DETECTOR_SOURCES, ConfigTextError, detect_source,
                                         load_detector, parse_config_text, read_checkpoint,
                                         released_detector_config)
from videomae_det.registry import MODELS

PathLike = Union[str, os.PathLike]

# The frame rate of the clips the models are trained on (AVA clips are re-encoded at
# 25 fps); ``frame_interval`` in a config counts frames at this rate.
TRAIN_CLIP_FPS = 25.0


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------


def init_detector(config: Union[PathLike, Config, None], checkpoint: Optional[PathLike] = None,
                  device: Union[str, torch.device] = 'cpu', partial_load: bool = False
                  ) -> nn.Module:
    """Build the detector of ``config`` and load ``checkpoint`` into it.

    Args:
        config: a config file or :class:`Config`; None takes the config a training
            checkpoint keeps in ``meta['cfg']``, read as data only (never executed, see
            :func:`videomae_det.models.weights.parse_config_text`).
        checkpoint: one of our detector checkpoints, or a released VideoMAE-Action-Detection
            / mmaction2 AVA detector as downloaded (with its ``configs/ava/zoo`` config);
            read with ``torch.load(weights_only=True)`` (no pickled code runs). None leaves
            the model randomly initialised.
        device: where the model runs.
        partial_load: load whatever fits and report the rest, instead of refusing a
            checkpoint that leaves keys missing/unexpected (wrong shapes are always refused).

    Returns:
        the model in eval mode on ``device``, with its config as ``model.cfg``.

    Raises:
        WeightsMismatchError (a ValueError): the checkpoint does not fit the model; the
            message lists the keys and the likely cause.
    """
    if config is None:
        if checkpoint is None:
            raise ValueError('init_detector needs a config, or a checkpoint that keeps one')
        cfg = config_of_checkpoint(checkpoint)
    elif isinstance(config, Config):
        cfg = config
    else:
        cfg = Config.fromfile(os.fspath(config))
    # built without init_weights(): a backbone ``pretrained`` file is never read here, the
    # checkpoint supersedes it
    raw = read_checkpoint(checkpoint) if checkpoint is not None else None
    model_cfg = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(cfg.model)
    # the classes a training checkpoint was trained on (its dataset metainfo) are those of
    # its head rows: they win over a label map file that may not exist on this machine
    trained = ActionClasses.from_meta(raw.meta.get('dataset_meta')) if raw is not None else None
    if trained is not None:
        model_cfg['label_map'] = trained
    model = MODELS.build(model_cfg)
    if raw is not None:
        load_detector(model, raw, strict=not partial_load)
    model.cfg = cfg
    return model.to(device).eval()


def config_of_checkpoint(checkpoint: PathLike) -> Config:
    """The config a training checkpoint keeps in ``meta['cfg']``, parsed as plain data.

    The text is never executed: a stored config carrying code (imports, calls other than
    ``dict(...)``) is refused, and the user is asked to pass the config file instead.
    """
    raw = read_checkpoint(checkpoint)
    source = detect_source(raw.state_dict, raw.container)
    if source in DETECTOR_SOURCES:
        # a released file: any config it keeps is its own toolkit's, not ours
        name = released_detector_config(source, raw.state_dict)
        raise ValueError(f'{checkpoint}: a released {source} file; pass its config, '
                         f'configs/ava/zoo/{name or "<see Model zoo>"}.py')
    text = raw.meta.get('cfg')
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f'no config given and {checkpoint} keeps none in meta["cfg"]; '
                         f'pass the config file')
    try:
        return Config(parse_config_text(text, where=f'{checkpoint} meta["cfg"]'))
    except ConfigTextError as e:
        raise ConfigTextError(f'{e}; pass the config file instead') from None


# ---------------------------------------------------------------------------------------
# Clip -> model input, through the config's own test pipeline
# ---------------------------------------------------------------------------------------

def _test_pipeline_cfg(cfg: Config) -> list:
    """The pipeline testing runs: the test (else val) dataset's, else ``test_pipeline``."""
    for loader in ('test_dataloader', 'val_dataloader'):
        dataset = cfg.get(loader, {}).get('dataset', {})
        if dataset.get('pipeline') is not None:
            return list(dataset['pipeline'])
    if cfg.get('test_pipeline') is not None:
        return list(cfg.test_pipeline)
    raise ValueError('the config has no test/val dataset pipeline nor test_pipeline')


@dataclass
class ClipSpec:
    """How a clip is sampled: ``clip_len`` frames ``frame_interval`` frames apart at
    ``sample_fps`` frames per second (the training clips' rate)."""
    clip_len: int
    frame_interval: int
    sample_fps: float = TRAIN_CLIP_FPS
    sample_offset: float = 0.0  # seconds added to every sampled time (see AVAVideoDataset)


def clip_spec_of(cfg: Config) -> ClipSpec:
    """The clip sampling of a config: its test (else val) dataset's ``clip_len``,
    ``frame_interval`` and ``sample_fps`` (``AVAVideoDataset`` defaults 16, 4, 25)."""
    for loader in ('test_dataloader', 'val_dataloader'):
        dataset = cfg.get(loader, {}).get('dataset', {})
        if dataset:
            return ClipSpec(int(dataset.get('clip_len', 16)),
                            int(dataset.get('frame_interval', 4)),
                            float(dataset.get('sample_fps', TRAIN_CLIP_FPS)),
                            float(dataset.get('sample_offset', 0.0)))
    raise ValueError('the config has no test_dataloader/val_dataloader dataset to tell the '
                     'clip sampling (clip_len, frame_interval)')


def default_input_size(cfg: Config, multiple: int) -> int:
    """The test-time short side of a config's pipeline (its ``Resize`` scale), rounded up
    to a multiple of ``multiple`` (the backbone's patch size, ``model.backbone.patch_size``);
    224 rounded likewise when the pipeline does not say."""
    side = 224
    for step in _test_pipeline_cfg(cfg):
        scale = step.get('scale')
        if isinstance(scale, (int, float)):
            found = int(scale)
        elif isinstance(scale, (tuple, list)) and len(scale) == 2:
            found = int(min(v for v in scale if v > 0)) if any(v > 0 for v in scale) else 0
        else:
            continue
        if found > 0:
            side = found
            break
    return -(-side // int(multiple)) * int(multiple)


class ClipPreparer:
    """Turns decoded frames + person boxes into the model's input sample with the config's
    own test pipeline (resize, box widening, packing; the dataset, not the pipeline, loads
    frames, so the whole pipeline applies).

    Call it with the clip ``(T, H, W, 3)`` uint8 RGB and boxes ``(M, 4)`` xyxy pixels of
    those frames; it returns ``dict(inputs=uint8 (3, T, H', W'), data_samples=...)`` ready
    for ``model.test_step`` (as one element of the lists it batches).
    """

    def __init__(self, cfg: Config):
        self.pipeline = Compose(_test_pipeline_cfg(cfg))

    def __call__(self, clip: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                 video_id: str, timestamp: float) -> dict:
        h, w = clip.shape[1:3]
        results = dict(
            imgs=clip, proposals=np.asarray(boxes, np.float32).reshape(-1, 4),
            proposal_scores=np.asarray(scores, np.float32).reshape(-1),
            img_shape=(h, w), ori_shape=(h, w), movie=video_id,
            timestamp=timestamp)
        out = self.pipeline(results)
        if out is None:
            raise RuntimeError(f'the test pipeline dropped the clip of {video_id} at {timestamp}s')
        return out


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass
class KeyframeResult:
    """The people at one keyframe and what they are doing.

    Attributes:
        video_id: the video's id (file stem unless given).
        timestamp: seconds, ``time_offset`` + the keyframe's time in the video.
        frame_index: the video frame the keyframe sits on.
        boxes: float32 ``(M, 4)`` xyxy in pixels of the video.
        boxes_norm: float32 ``(M, 4)`` xyxy normalised to [0, 1] by the video's width/height.
        person_scores: float32 ``(M,)`` the person detector's scores.
        action_scores: float32 ``(M, C)``, one column per class of the model; column ``i``
            is action id ``class_ids[i]`` (already multiplied by the person score, as in AVA
            evaluation).
        actions: per box, ``[(action_id, score), ...]`` above the threshold among the
            reported action ids, highest first.
        frames: with ``with_frames=True``, the ``(frame_index, RGB frame)`` pairs this
            keyframe's results are shown on: from its frame up to the next keyframe's.
        keyframe_index: the keyframe's place in the schedule (``timestamp`` is
            ``time_offset + keyframe_index × interval``).
        frame_time: the timestamp (s, from the start of the video) of the frame the keyframe
            sits on (the frame nearest its scheduled time).
        track_ids: int64 ``(M,)`` person track ids when a tracker ran
            (:mod:`videomae_det.tracking`), ``-1`` for a box on no track; else None.
        class_ids: the action id of each score column (ascending); None means ``1..C``.
    """
    video_id: str
    timestamp: float
    frame_index: int
    boxes: np.ndarray
    boxes_norm: np.ndarray
    person_scores: np.ndarray
    action_scores: np.ndarray
    actions: List[List[Tuple[int, float]]]
    frames: Optional[List[Tuple[int, np.ndarray]]] = field(default=None, repr=False)
    keyframe_index: int = 0
    frame_time: float = 0.0
    track_ids: Optional[np.ndarray] = None
    class_ids: Optional[Tuple[int, ...]] = field(default=None, repr=False)

    def column_ids(self) -> Tuple[int, ...]:
        """The action id of each column of ``action_scores``."""
        if self.class_ids is not None:
            return tuple(self.class_ids)
        return tuple(range(1, self.action_scores.shape[1] + 1))


def top_actions(scores: np.ndarray, threshold: float, action_ids: Sequence[int],
                column_ids: Optional[Sequence[int]] = None) -> List[List[Tuple[int, float]]]:
    """Per row of ``scores`` (M, C): ``(id, score)`` of ``action_ids`` scoring ≥ threshold,
    highest first. Column ``i`` is id ``column_ids[i]`` (default ``i + 1``); ids the
    columns do not hold are skipped."""
    scores = np.asarray(scores)
    cols_of = {int(a): c for c, a in enumerate(
        column_ids if column_ids is not None else range(1, scores.shape[-1] + 1))}
    ids = np.asarray([a for a in sorted(set(int(a) for a in action_ids)) if a in cols_of],
                     np.int64)
    cols = np.asarray([cols_of[int(a)] for a in ids], np.int64)
    out = []
    for row in scores:
        sub = row[cols]
        keep = np.nonzero(sub >= threshold)[0]
        order = keep[np.argsort(-sub[keep], kind='stable')]
        out.append([(int(ids[i]), float(sub[i])) for i in order])
    return out


def label_names_of(cfg: Optional[Config],
                   classes: Optional[ActionClasses] = None) -> Dict[int, str]:
    """Action ids a config's model is evaluated on -> names.

    The label map named by the config's evaluator (``label_map_file`` of its test/val
    evaluator or its top level) when it exists; the packaged official map when the config
    names that file under a data folder that is absent (``configs/ava/*`` on a machine
    without AVA); else the model's own classes (``classes``, e.g. ``model.action_classes``;
    AVA's 80 actions when not given). Only ids among ``classes`` are returned.
    """
    classes = classes if classes is not None else ActionClasses.ava()
    found = _find_key(cfg.to_dict(), 'label_map_file') if cfg is not None else None
    names = None
    if found:
        if Path(found).is_file():
            names = read_label_map(found)
        elif Path(found).name == AVA_LABEL_MAP.name:
            names = read_label_map(AVA_LABEL_MAP)
        else:
            print_log(f'label map {found} (named by the config) not found; reporting all '
                      f'{len(classes)} classes of the model', logger='current',
                      level=logging.WARNING)
    if names is None:
        return dict(classes.names)
    return {i: n for i, n in names.items() if i in classes}


def _find_key(node, key):
    if isinstance(node, dict):
        for preferred in ('test_evaluator', 'val_evaluator', 'test_dataloader'):
            if preferred in node:
                hit = _find_key(node[preferred], key)
                if hit:
                    return hit
        if isinstance(node.get(key), (str, os.PathLike)):
            return os.fspath(node[key])
        for value in node.values():
            hit = _find_key(value, key)
            if hit:
                return hit
    elif isinstance(node, (list, tuple)):
        for value in node:
            hit = _find_key(value, key)
            if hit:
                return hit
    return None


# ---------------------------------------------------------------------------------------
# Streaming inference
# ---------------------------------------------------------------------------------------

@dataclass
class StreamStats:
    """Live counters of a :func:`detect_video` run, safe to read from another thread.

    ``frames_read``: frames the source delivered; ``frames_dropped``: of those, dropped by
    the realtime buffer before anyone looked at them; ``keyframes_dropped``: keyframes
    skipped because the model was still busy (realtime); ``latencies``: seconds from the
    capture of a keyframe's frame (live sources) or its placement (files) to its result,
    the last 500. Input fps is measured on the source's own clock.
    """
    source: str = ''
    realtime: bool = False
    frames_read: int = 0
    frames_dropped: int = 0
    keyframes_done: int = 0
    keyframes_dropped: int = 0
    first_time: Optional[float] = None
    last_time: Optional[float] = None
    started: float = field(default_factory=time.monotonic)
    latencies: Deque[float] = field(default_factory=lambda: deque(maxlen=500))

    def input_fps(self) -> float:
        span = (self.last_time or 0.0) - (self.first_time or 0.0)
        return (self.frames_read - 1) / span if span > 0 and self.frames_read > 1 else 0.0

    def keyframes_per_second(self) -> float:
        return self.keyframes_done / max(time.monotonic() - self.started, 1e-9)

    def summary(self) -> Dict:
        lat = np.asarray(self.latencies, np.float64)
        return dict(source=self.source, realtime=self.realtime,
                    frames_read=self.frames_read, frames_dropped=self.frames_dropped,
                    input_fps=round(self.input_fps(), 3), keyframes=self.keyframes_done,
                    keyframes_dropped=self.keyframes_dropped,
                    keyframes_per_s=round(self.keyframes_per_second(), 3),
                    latency_mean_s=round(float(lat.mean()), 3) if lat.size else None,
                    latency_max_s=round(float(lat.max()), 3) if lat.size else None)

    def line(self) -> str:
        """One log line: input fps, keyframes/s, drops and latency."""
        d = self.summary()
        lat = (f'latency {d["latency_mean_s"]:.2f} s mean, {d["latency_max_s"]:.2f} s max'
               if d['latency_mean_s'] is not None else 'latency -')
        return (f'input {d["input_fps"]:.1f} fps, {d["keyframes_per_s"]:.2f} keyframes/s, '
                f'{d["keyframes"]} keyframes done, {d["keyframes_dropped"]} skipped, '
                f'{d["frames_dropped"]} of {d["frames_read"]} frames dropped, {lat}')


_END = object()


@dataclass
class _Job:
    keyframe: Keyframe
    boxes: np.ndarray
    scores: np.ndarray
    sample: Optional[dict]


class _Producer(threading.Thread):
    """Decodes, places keyframes, detects people and prepares model inputs ahead of the
    model.

    Puts, in keyframe order, ``_Job`` items and (with frames) ``('frames', k, list)`` items,
    then either ``_END`` or the exception that stopped it, onto ``out``.
    """

    def __init__(self, frames: Iterable[Tuple[int, float, np.ndarray]],
                 scheduler: ClipScheduler, person_detector, preparer: ClipPreparer,
                 video_id: str, time_offset: float, with_frames: bool, out: queue.Queue,
                 stats: StreamStats, max_shown: Optional[int] = None):
        super().__init__(name='videomae-det-producer', daemon=True)
        self.frames, self.scheduler, self.stats = frames, scheduler, stats
        # realtime: frames held for display while every keyframe is being skipped are capped
        self.max_shown = max_shown
        self.in_flight = 0  # jobs handed to the model and not yet scored
        self.lock = threading.Lock()
        self.person_detector, self.preparer = person_detector, preparer
        self.video_id, self.time_offset = video_id, time_offset
        self.with_frames, self.out = with_frames, out
        self.stop = threading.Event()
        # frames shown with the latest accepted keyframe (its frame onwards), and which it is
        self._shown: List[Tuple[int, np.ndarray]] = []
        self._shown_k: Optional[int] = None
        scheduler.on_place = self._placed

    def _put(self, item) -> None:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _placed(self, kf: Keyframe, accepted: bool) -> None:
        """A keyframe is placed: the frames before it belong to the previous accepted one."""
        kf.placed_at = time.monotonic()
        if not accepted:
            self.stats.keyframes_dropped += 1
        if not (self.with_frames and accepted):
            return
        if self._shown_k is not None:
            before = [f for f in self._shown if f[0] < kf.frame_index]
            self._put(('frames', self._shown_k, before))
            self._shown = [f for f in self._shown if f[0] >= kf.frame_index]
        self._shown_k = kf.index

    def _job(self, kf: Keyframe) -> _Job:
        timestamp = self.time_offset + kf.time
        boxes, scores = self.person_detector(kf.image, video_id=self.video_id,
                                             timestamp=timestamp)
        sample = None
        if len(boxes):
            sample = self.preparer(kf.clip, boxes, scores, self.video_id, timestamp)
        kf.clip = kf.image = None  # the model input is made; free the frames
        return _Job(kf, boxes, scores, sample)

    def _count_frames(self) -> None:
        """Frames delivered by the source (and dropped unseen, realtime), in the stats."""
        if isinstance(self.frames, LatestFrames):
            self.stats.frames_read, self.stats.frames_dropped = self.frames.read, self.frames.dropped
        else:
            self.stats.frames_read += 1

    def _emit(self, kf: Keyframe) -> None:
        job = self._job(kf)
        with self.lock:
            self.in_flight += 1
        self._put(job)

    def run(self) -> None:
        try:
            self._run()
        except _Stopped:
            pass
        except BaseException as e:  # handed to the consumer, which raises it
            try:
                self._put(e)
            except _Stopped:
                pass

    def _run(self) -> None:
        error = None
        try:
            for index, frame_time, frame in self.frames:
                if self.stop.is_set():
                    raise _Stopped
                stats = self.stats
                if stats.first_time is None:
                    stats.first_time = frame_time
                stats.last_time = frame_time
                self._count_frames()
                ready = self.scheduler.push(index, frame_time, frame)
                if self.with_frames:
                    self._shown.append((index, frame))
                    if self.max_shown is not None and len(self._shown) > self.max_shown:
                        self._shown.pop(0)
                for kf in ready:
                    self._emit(kf)
        except VideoDecodeError as e:
            # the stream ends early: keep what was decoded, finishing the keyframes that
            # lie in it (their clips padded with the last good frame); later ones are lost
            error = e
        if isinstance(self.frames, LatestFrames):
            self._count_frames()
        for kf in self.scheduler.finish():
            self._emit(kf)
        if self.with_frames and self._shown_k is not None:
            self._put(('frames', self._shown_k, self._shown))
        self._put(error if error is not None else _END)


class _Stopped(Exception):
    """The consumer went away; the producer winds down."""


def detect_video(model: nn.Module,
                 video_path,
                 person_detector,
                 keyframe_interval: float = 1.0,
                 score_threshold: float = 0.3,
                 *,
                 video_id: Optional[str] = None,
                 time_offset: float = 0.0,
                 action_ids: Optional[Iterable[int]] = None,
                 with_frames: bool = False,
                 queue_size: int = 4,
                 realtime: Optional[bool] = None,
                 max_pending: int = 2,
                 frame_buffer: int = 8,
                 fps: Optional[float] = None,
                 stats: Optional[StreamStats] = None,
                 batch_size: int = 1) -> Iterator[KeyframeResult]:
    """Detect people and their actions on a video, keyframe by keyframe.

    Keyframes are every ``keyframe_interval`` seconds from the start (AVA: 1 per second),
    placed by the frames' timestamps (right on variable-frame-rate videos). Each
    keyframe's clip is sampled as in the model's config (e.g. 16 frames 4 apart at 25 fps,
    centred on the keyframe), taking the frames nearest those times whatever the video's
    frame rate; the person detector runs on the keyframe; the model scores every box.

    Realtime mode (the default for live sources: cameras and stream URLs) keeps latency
    bounded when the model is slower than the source: a reader thread keeps only the
    newest ``frame_buffer`` frames (older ones are dropped), time is the wall clock at
    capture so keyframes stay ``keyframe_interval`` seconds apart, and a keyframe is
    skipped (not queued) while ``max_pending`` keyframes already wait for the model.
    Clips still take the nearest *surviving* frame to each sampling time.

    Args:
        model: from :func:`init_detector` (``model.cfg`` holds its config).
        video_path: a video file (any container OpenCV's FFmpeg reads), a camera index, a
            stream URL, a folder of frames (give ``fps``), or a source from
            :func:`videomae_det.apis.sources.open_source`.
        person_detector: a callable ``(frame, video_id=, timestamp=) -> (boxes, scores)``,
            see :mod:`videomae_det.apis.person_detectors`.
        keyframe_interval: seconds between keyframes.
        score_threshold: an action is listed in ``KeyframeResult.actions`` from this score.
        video_id: the id results carry (and boxes files are looked up by); default: the
            file name without extension (``camera0``, the URL's last part, the folder name).
        time_offset: seconds added to keyframe times (e.g. the movie time of the first
            frame of a cut-out segment).
        action_ids: the action ids to report (default: those of the label map the config's
            evaluator names, else all classes of the model).
        with_frames: attach to each result the frames it is shown on (for drawing).
        queue_size: prepared keyframes waiting for the model (bounds memory).
        realtime: None = on for live sources only.
        max_pending, frame_buffer: realtime bounds (see above).
        fps: frame rate of a folder of frames.
        stats: a :class:`StreamStats` to keep up to date (read it while iterating).
        batch_size: keyframe clips per forward (faster where memory allows; the results
            are the same as one by one). In realtime mode a forward takes the clips ready
            at that moment, up to ``batch_size``, never waiting for more.

    Yields:
        :class:`KeyframeResult` in keyframe order.

    Raises:
        VideoDecodeError: the video cannot be opened, or decoding stops early (truncated or
            corrupt file), naming the file and frame. In the latter case it is raised after
            the results (and frames) of every keyframe that was decoded have been yielded.
    """
    source = video_path if hasattr(video_path, 'timed_frames') else open_source(video_path, fps)
    if realtime is None:
        realtime = bool(getattr(source, 'live', False))
    if max_pending < 1:
        raise ValueError(f'max_pending must be >= 1; got {max_pending}')
    if batch_size < 1:
        raise ValueError(f'batch_size must be at least 1; got {batch_size}')
    if not realtime and hasattr(source, 'clock'):
        source.clock = 'stream'  # every frame is read, late: read times are not show times
    stats = stats if stats is not None else StreamStats()
    stats.source, stats.realtime = describe_source(source), realtime
    cfg = model.cfg
    spec = clip_spec_of(cfg)
    scheduler = ClipScheduler(keyframe_interval, spec.clip_len, spec.frame_interval,
                              spec.sample_fps, sample_offset=spec.sample_offset)
    classes = getattr(model, 'action_classes', None)
    if action_ids is None:
        action_ids = label_names_of(cfg, classes).keys()
    action_ids = sorted(set(int(a) for a in action_ids))
    if video_id is None:
        video_id = source.video_id
    frames = LatestFrames(source, frame_buffer) if realtime else source.timed_frames()
    # realtime: the accept gate below bounds what waits, so the producer never blocks
    out: queue.Queue = queue.Queue(maxsize=0 if realtime else max(queue_size, batch_size))
    producer = _Producer(frames, scheduler, person_detector, ClipPreparer(cfg), video_id,
                         time_offset, with_frames, out, stats,
                         max_shown=int(10 * max(getattr(source, 'fps', 30), 1)) if realtime
                         else None)
    if realtime:
        scheduler.accept = lambda kf: producer.in_flight < max_pending
    producer.start()
    # scored keyframes waiting for their frames (which come when the next one is placed)
    waiting: Deque[KeyframeResult] = deque()
    frames_of: Dict[int, list] = {}
    pending: List[_Job] = []  # prepared clips waiting for a batch

    def score_pending():
        results = _score(model, pending, video_id, time_offset,
                         (source.height, source.width), score_threshold, action_ids)
        for job, result in zip(pending, results):
            with producer.lock:
                producer.in_flight -= 1
            stats.keyframes_done += 1
            # latency from the capture of the keyframe's frame (a live source's clock),
            # else from its placement
            t0 = getattr(source, 't0', None) if realtime else None
            origin = (t0 + job.keyframe.frame_time if t0 is not None
                      else job.keyframe.placed_at)
            if origin is not None:
                stats.latencies.append(time.monotonic() - origin)
            waiting.append(result)
        pending.clear()

    try:
        while True:
            item = out.get()
            if item is _END or isinstance(item, BaseException):
                break
            if isinstance(item, tuple):
                frames_of[item[1]] = item[2]
                continue
            pending.append(item)
            clips = sum(job.sample is not None for job in pending)
            # a keyframe without people waits only behind clips already waiting; realtime
            # never waits for a batch to fill (max_pending may be below batch_size)
            if ((len(pending) == 1 and item.sample is None) or clips >= batch_size
                    or (realtime and out.empty())):
                score_pending()
            while waiting and (not with_frames or waiting[0].keyframe_index in frames_of):
                result = waiting.popleft()
                result.frames = frames_of.pop(result.keyframe_index, None)
                yield result
        score_pending()
        # the producer sends every keyframe's frames before ending
        while waiting:
            result = waiting.popleft()
            result.frames = frames_of.pop(result.keyframe_index, None)
            yield result
        if isinstance(item, BaseException):
            raise item
    finally:
        producer.stop.set()
        if realtime:
            frames.close()
        producer.join()
        close = getattr(source, 'close', None)
        if close is not None and source is not video_path:
            close()


@torch.no_grad()
def _score(model: nn.Module, jobs: Sequence[_Job], video_id: str, time_offset: float,
           video_shape: Tuple[int, int], threshold: float,
           action_ids: Sequence[int]) -> List[KeyframeResult]:
    """Results of ``jobs``, their clips scored in one forward."""
    classes = getattr(model, 'action_classes', None) or ActionClasses.ava()
    num_classes = len(classes)
    with_people = [job for job in jobs if job.sample is not None]
    preds = iter(model.test_step(dict(
        inputs=[job.sample['inputs'] for job in with_people],
        data_samples=[job.sample['data_samples'] for job in with_people])) if with_people else ())
    results = []
    for job in jobs:
        kf = job.keyframe
        if job.sample is None:  # nobody on this keyframe: nothing to classify
            boxes = np.zeros((0, 4), np.float32)
            norm, person, scores = boxes, np.zeros((0,), np.float32), np.zeros(
                (0, num_classes), np.float32)
        else:
            pred = next(preds)
            norm = pred.pred_bboxes.detach().cpu().float().numpy().reshape(-1, 4)
            scores = pred.pred_scores.detach().cpu().float().numpy().reshape(-1, num_classes)
            person = np.asarray(job.scores, np.float32)
            h, w = video_shape
            boxes = (norm * np.array([w, h, w, h], np.float32)).astype(np.float32)
        results.append(KeyframeResult(
            video_id=video_id, timestamp=round(time_offset + kf.time, 6),
            frame_index=kf.frame_index, boxes=boxes, boxes_norm=norm.astype(np.float32),
            person_scores=person, action_scores=scores.astype(np.float32),
            actions=top_actions(scores, threshold, action_ids, classes.ids),
            class_ids=classes.ids, keyframe_index=kf.index,
            frame_time=round(kf.frame_time, 6)))
    return results


def count_keyframes(video_path: PathLike, model: nn.Module, keyframe_interval: float = 1.0) -> int:
    """How many keyframes :func:`detect_video` will yield for a complete constant-rate
    video (an estimate from the container's frame count and rate otherwise)."""
    stream = VideoStream(video_path)
    spec = clip_spec_of(model.cfg)
    return len(keyframe_schedule(stream.num_frames, stream.fps, keyframe_interval,
                                 spec.clip_len, spec.frame_interval, spec.sample_fps,
                                 spec.sample_offset))
