"""AVA dataset: one sample per keyframe, a clip of frames centred on it and its person boxes.

Boxes: xyxy pixels of the stored video throughout loading (the ``*_min.json`` stores
[x, y, w, h] pixels of the stored clips); transforms then move them to network-input pixels.

Clip sampling: ``clip_len`` frames ``frame_interval`` apart, keyframe at position
``clip_len // 2`` (for 16×4: offsets −32 .. +28). ``frame_interval`` counts frames at
``sample_fps`` (25 by default, the rate of the stored clips), so a 16×4 clip spans 2.56 s
whatever the storage layout; for other layouts the nearest stored frame to each sampling
time is decoded. Before the first or after the last stored frame of a movie the edge frame
repeats.

Storage layouts (``layout=dict(type='clips'|'frames'|'videos', dir=..., ...)``, paths
relative to ``data_root``): see :mod:`videomae_det.datasets.layouts`. The stored frames
must have the width/height the ``*_min.json`` gives (its boxes are pixels of them): a movie
whose frames decode at another size raises :class:`FrameSizeMismatchError` naming it.

Person boxes for validation/test (``proposal_file``) may be a COCO results JSON, a person-box
CSV (PySlowFast's predicted boxes) or mmaction2's proposals pickle
(:mod:`videomae_det.formats.detections`).
"""
import contextlib
import io
import logging
import os
import warnings
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from videomae_det.action_classes import ActionClasses, LabelMapSpec
from videomae_det.formats import AVAFormatError, load_min_json, read_person_detections
from videomae_det.datasets.layouts import (FrameSizeMismatchError, MissingClipError,  # noqa: F401
                                           build_layout, clip_frame_indices, nearest_frames,
                                           sampling_times)
from videomae_det.datasets.video_io import VideoDecodeError
from videomae_det.registry import DATASETS


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
    and, when boxes come from the ground truth, ``gt_labels`` float32 (M, C) multi-hot over
    the classes of ``label_map`` (column ``i`` = ``metainfo['action_ids'][i]``).

    ``metainfo`` carries the class set (``action_ids``, ``classes`` = names in column order,
    ``num_classes``); mmengine hands it to the metric and stores it in checkpoints.

    Args:
        ann_file: ``*_min.json`` (relative to ``data_root`` unless absolute).
        data_root: dataset root, e.g. ``data/ava`` or ``data/mini_ava``.
        proposal_file: person detections (COCO results JSON, person-box CSV or mmaction2
            proposals pickle); when given, they replace the ground-truth boxes
            (validation/test), keeping those with score ≥ ``det_score_thr``.
        det_score_thr: detection score threshold.
        det_keep_best: a keyframe none of whose detections reaches ``det_score_thr`` keeps
            its highest-scoring one (mmaction2's ``person_det_score_thr`` rule) instead of
            being left without boxes.
        pipeline: transforms (dicts or callables).
        test_mode: mmengine test mode (no re-fetching of failed samples).
        clip_len, frame_interval: T frames, ``frame_interval`` apart at ``sample_fps``.
        sample_offset: seconds added to every sampled time (0: frame ``clip_len // 2`` on
            the keyframe; VideoMAE-Action-Detection's clips sit 1/25 s later, +0.04).
        layout: storage layout dict, e.g. ``dict(type='frames', dir='frames', fps=30,
            start_sec=900, template='{movie}/{movie}_{index:06d}.jpg')``, or just its type
            (:mod:`videomae_det.datasets.layouts`; default ``dict(type='clips',
            dir='clips/trainval', fps=25)``).
        skip_missing: drop samples whose stored video is missing (counted in the log)
            instead of raising; while training, a sample that fails to decode is also
            replaced by another one.
        num_threads: decoder threads per read (1 suits DataLoader workers).
        label_map: the classes: None (AVA's 80 actions), a label map file or ``{id: name}``;
            the model's ``label_map`` must be the same.
        drop_unknown_actions: ground-truth action ids outside the label map are dropped
            (counted in the log) instead of refused, e.g. to train on a subset of classes.
    """

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 proposal_file: Optional[str] = None,
                 det_score_thr: float = 0.8,
                 det_keep_best: bool = False,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 clip_len: int = 16,
                 frame_interval: int = 4,
                 sample_fps: float = 25.0,
                 sample_offset: float = 0.0,
                 layout: Union[str, dict] = 'clips',
                 skip_missing: bool = False,
                 num_threads: int = 1,
                 label_map: LabelMapSpec = None,
                 drop_unknown_actions: bool = False,
                 **kwargs):
        self.action_classes = ActionClasses.resolve(label_map)
        self.drop_unknown_actions = drop_unknown_actions
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.update(self.action_classes.to_meta())
        self.clip_len, self.frame_interval, self.sample_fps = clip_len, frame_interval, sample_fps
        self.sample_offset = float(sample_offset)
        self.det_score_thr = det_score_thr
        self.det_keep_best = det_keep_best
        self.skip_missing = skip_missing
        self._layout = build_layout(layout, data_root, num_threads)
        self.layout = self._layout.type
        if proposal_file and not os.path.isabs(proposal_file):
            proposal_file = os.path.join(data_root, proposal_file)
        self.proposal_file = proposal_file
        self.num_skipped_decode = 0  # samples replaced at load time (skip_missing, training)
        self.num_skipped_missing = 0  # keyframes dropped at start-up (skip_missing)
        super().__init__(ann_file=ann_file, data_root=data_root, pipeline=pipeline,
                         test_mode=test_mode, metainfo=metainfo, **kwargs)

    # ------------------------------------------------------------------ annotations
    def load_data_list(self) -> List[dict]:
        from pycocotools.coco import COCO
        data = load_min_json(self.ann_file, require_actions=self.proposal_file is None)
        n_unknown = 0
        if self.proposal_file is None:
            for i, ann in enumerate(data['annotations']):
                unknown = [a for a in ann['action_ids'] if a not in self.action_classes]
                if unknown and self.drop_unknown_actions:
                    n_unknown += len(unknown)
                    ann['action_ids'] = [a for a in ann['action_ids']
                                         if a in self.action_classes]
                elif unknown:
                    raise AVAFormatError(
                        self.ann_file, None,
                        f'annotation #{i} (id {ann.get("id")}) has action id(s) {unknown} '
                        f'that are not in the label map ({self.action_classes.source}); give '
                        f'the label map of your classes (label_map=...) or '
                        f'drop_unknown_actions=True')
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
                thr = self.det_score_thr
                if self.det_keep_best and len(scores):
                    # mmaction2's rule: a keyframe whose boxes all miss the threshold keeps
                    # its best one(s)
                    thr = min(thr, float(scores.max()))
                keep = scores >= thr
                boxes, scores, labels = boxes[keep], scores[keep], None
            else:
                anns = coco.imgToAnns.get(img['id'], [])
                boxes = np.array([a['bbox'] for a in anns], np.float64).reshape(-1, 4)
                boxes[:, 2:] += boxes[:, :2]
                scores = np.ones(len(anns))
                labels = self.action_classes.multi_hot([a['action_ids'] for a in anns])
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
        if n_unknown:
            print_log(f'{self.ann_file}: {n_unknown} action label(s) outside the label map '
                      f'({self.action_classes.source}) dropped', logger='current',
                      level=logging.WARNING)
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
                f'{self.data_root!r}); see docs/data.md to prepare it')
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
                              self.sample_fps) + self.sample_offset

    def load_frames(self, info: dict) -> np.ndarray:
        """uint8 (clip_len, H, W, 3) RGB frames of the clip around ``info``'s keyframe.

        Raises :class:`FrameSizeMismatchError` when they are not the size the annotation
        file gives the movie (its boxes are pixels of that size)."""
        imgs = self._layout.load(info['movie'], info['timestamp'], self._times(info))
        if tuple(imgs.shape[1:3]) != tuple(info['ori_shape']):
            (h, w), (jh, jw) = imgs.shape[1:3], info['ori_shape']
            raise FrameSizeMismatchError(
                f'movie {info["movie"]}: stored frames under {self._layout.root} are {w}x{h} '
                f'but {self.ann_file} gives {jw}x{jh} (its boxes are pixels of that size); '
                f'rebuild the JSON from these frames with tools/data/ava/csv_to_min_json.py or '
                f'point the layout at the frames it was made for')
        return imgs

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
