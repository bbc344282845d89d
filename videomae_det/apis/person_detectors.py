"""Person detectors that give inference its boxes on each keyframe.

Every detector is called as ``detector(frame, video_id=..., timestamp=...)`` with ``frame``
a uint8 ``(H, W, 3)`` RGB keyframe and returns ``(boxes, scores)``: float32 ``(M, 4)`` xyxy
boxes in pixels of ``frame`` and float32 ``(M,)`` scores in [0, 1], highest first. The
scores multiply the action scores (as detector scores do at AVA validation).

- :class:`HOGPersonDetector`: OpenCV's HOG + linear SVM people detector; needs no weights
  download, misses small, sitting or occluded people.
- :class:`FasterRCNNPersonDetector`: torchvision's Faster R-CNN (ResNet-50 FPN, COCO
  classes) from a weights file the user has.
- :class:`BoxesFilePersonDetector`: boxes the user already has (AVA CSV, PySlowFast's
  predicted boxes, our ``*_min.json``, a COCO results list or mmaction2's proposals pickle),
  looked up by video id and timestamp.
"""
import math
import os
from collections import defaultdict
from typing import Dict, Optional, Tuple, Union

import cv2
import numpy as np
import torch
from torchvision.ops import nms

from videomae_det.formats import (CSVBox, iter_csv_rows, load_json, read_person_box_csv,
                                  read_proposals_pkl)
from videomae_det.models.weights import load_checked, read_checkpoint
from videomae_det.structures import clip_boxes, denormalize_boxes, xywh_to_xyxy

PathLike = Union[str, os.PathLike]
Detections = Tuple[np.ndarray, np.ndarray]


def _empty() -> Detections:
    return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)


def _sorted(boxes: np.ndarray, scores: np.ndarray) -> Detections:
    order = np.argsort(-scores, kind='stable')
    return boxes[order].astype(np.float32), scores[order].astype(np.float32)


def hog_postprocess(rects: np.ndarray, margins: np.ndarray, scale: float,
                    img_shape: Tuple[int, int], score_thr: float = 0.5,
                    nms_iou: float = 0.45) -> Detections:
    """Turn raw HOG windows into person boxes.

    Args:
        rects: ``(N, 4)`` windows ``(x, y, w, h)`` in pixels of the (resized) image HOG ran on.
        margins: ``(N,)`` SVM margins of the windows (> 0 means "person").
        scale: size of the original frame / size of the image HOG ran on.
        img_shape: ``(height, width)`` of the original frame, to clip the boxes.
        score_thr: keep windows whose score ``sigmoid(margin)`` is at least this (0.5 =
            margin 0).
        nms_iou: windows overlapping a higher-scoring kept window by more than this IoU are
            dropped (HOG fires on many shifted windows around one person).

    Returns:
        ``(boxes (M, 4) xyxy pixels of the original frame, scores (M,))``, highest first.
    """
    rects = np.asarray(rects, np.float32).reshape(-1, 4)
    margins = np.asarray(margins, np.float32).reshape(-1)
    if len(rects) != len(margins):
        raise ValueError(f'{len(rects)} HOG windows but {len(margins)} margins')
    scores = 1.0 / (1.0 + np.exp(-margins))
    keep = scores >= score_thr
    rects, scores = rects[keep], scores[keep]
    if not len(rects):
        return _empty()
    boxes = clip_boxes(xywh_to_xyxy(rects) * scale, img_shape)
    kept = nms(torch.from_numpy(boxes), torch.from_numpy(scores), nms_iou).numpy()
    return _sorted(boxes[kept], scores[kept])


class HOGPersonDetector:
    """OpenCV's default HOG people detector (64×128 window, Dalal & Triggs).

    The frame is resized to ``work_height`` rows before detection (up for small videos,
    where people are often shorter than the 128-pixel window; down for large ones, for
    speed), and the boxes are scaled back.

    Args:
        score_thr: minimum ``sigmoid(SVM margin)``.
        nms_iou: IoU above which overlapping windows are merged by NMS.
        work_height: rows of the image HOG runs on.
        win_stride: window step in pixels (smaller finds more, costs more).
        pyramid_scale: scale factor between pyramid levels.
    """

    def __init__(self, score_thr: float = 0.5, nms_iou: float = 0.45, work_height: int = 360,
                 win_stride: int = 8, pyramid_scale: float = 1.05):
        self.score_thr = score_thr
        self.nms_iou = nms_iou
        self.work_height = work_height
        self.win_stride = win_stride
        self.pyramid_scale = pyramid_scale
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect_raw(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """HOG windows ``(N, 4)`` xywh and SVM margins ``(N,)`` on ``image`` as given."""
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        # hitThreshold -inf-ish would flood NMS; below the score threshold is useless.
        hit = math.log(self.score_thr / (1 - self.score_thr)) if 0 < self.score_thr < 1 else 0.
        rects, margins = self.hog.detectMultiScale(
            gray, hitThreshold=hit, winStride=(self.win_stride, self.win_stride),
            padding=(8, 8), scale=self.pyramid_scale, groupThreshold=0)
        return np.asarray(rects, np.float32).reshape(-1, 4), np.asarray(margins,
                                                                        np.float32).reshape(-1)

    def __call__(self, frame: np.ndarray, video_id: str = '', timestamp: float = 0.) -> Detections:
        h, w = frame.shape[:2]
        scale = h / self.work_height
        work = cv2.resize(frame, (max(1, round(w / scale)), self.work_height),
                          interpolation=cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR)
        rects, margins = self.detect_raw(work)
        return hog_postprocess(rects, margins, scale, (h, w), self.score_thr, self.nms_iou)


class FasterRCNNPersonDetector:
    """torchvision's ``fasterrcnn_resnet50_fpn`` (91 COCO classes; person = label 1).

    Args:
        weights: a state dict file of that model (e.g. torchvision's
            ``fasterrcnn_resnet50_fpn_coco-258fb6c6.pth``), loaded with
            ``weights_only=True``; a dict holding it under ``model`` or ``state_dict`` works.
        score_thr: minimum person score (0.8 is AVA's validation threshold).
        device: where the detector runs.
        min_size: shorter side the model resizes frames to (800 as trained; smaller is
            faster and misses small people).
    """

    PERSON_LABEL = 1

    def __init__(self, weights: PathLike, score_thr: float = 0.8, device='cpu',
                 min_size: int = 800):
        from torchvision.models.detection import fasterrcnn_resnet50_fpn
        self.score_thr = score_thr
        self.device = torch.device(device)
        model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91,
                                        min_size=min_size, box_score_thresh=min(score_thr, 0.05))
        raw = read_checkpoint(weights)  # weights_only: no pickled code runs
        load_checked(model, raw.state_dict, str(weights), 'torchvision fasterrcnn_resnet50_fpn',
                     strict=True)
        self.model = model.eval().to(self.device)

    @torch.no_grad()
    def __call__(self, frame: np.ndarray, video_id: str = '', timestamp: float = 0.) -> Detections:
        image = torch.from_numpy(frame).to(self.device).permute(2, 0, 1).float() / 255
        out = self.model([image])[0]
        keep = (out['labels'] == self.PERSON_LABEL) & (out['scores'] >= self.score_thr)
        return _sorted(out['boxes'][keep].cpu().numpy(), out['scores'][keep].cpu().numpy())


def _time_key(timestamp: float) -> int:
    """Timestamps compare in whole milliseconds (``902`` == ``902.0`` == ``'0902'``)."""
    return int(round(float(timestamp) * 1000))


class BoxesFilePersonDetector:
    """Person boxes read from a file, looked up by ``(video_id, timestamp)``.

    Formats (by extension):

    - ``.csv``: AVA rows ``video_id, timestamp, x1, y1, x2, y2[, action_id[, person_id]]``,
      whole-second timestamps, coordinates normalised to [0, 1] (read by
      ``videomae_det.formats.iter_csv_rows``); the several rows of one person
      (one per action) give one box; a 2-column row ``video_id, timestamp`` is a keyframe
      with no people. CSV boxes carry no detector score: scores are 1.
    - ``.json``, a dict with ``images`` and ``annotations`` (our ``ava_*_min.json``): each
      image has ``movie``, ``timestamp``, ``width``, ``height``; each annotation an
      ``image_id`` and ``bbox`` ``[x, y, w, h]`` in pixels of that image (and an optional
      ``score``, else 1).
    - ``.json``, a list (COCO results, e.g. ``boxes/ava_val_det_person_bbox.json``):
      entries ``{image_id, bbox [x, y, w, h] pixels, score}`` whose image ids are resolved
      through ``images_file`` (the ``*_min.json`` they belong to); or entries that carry
      ``video_id`` (or ``movie``) and ``timestamp`` themselves, with ``bbox`` in pixels of
      the video inference runs on.

    Pixel boxes are rescaled to the frame when the frame size differs from the size they
    were given in. Keyframes absent from the file have no people.

    Args:
        path: the boxes file.
        images_file: ``*_min.json`` resolving the image ids of a COCO results list.
        score_thr: boxes scoring below this are ignored (AVA validation uses 0.8).
    """

    def __init__(self, path: PathLike, images_file: Optional[PathLike] = None,
                 score_thr: float = 0.0):
        self.path = os.fspath(path)
        self.score_thr = score_thr
        # (video_id, ms) -> [(box xyxy, score, size)], size: 'norm' (normalised box), (H, W)
        # of the image the pixel box was given in, or None (pixels of the input video)
        self._boxes: Dict[Tuple[str, int], list] = defaultdict(list)
        ext = os.path.splitext(self.path)[1].lower()
        if ext == '.csv':
            self._read_csv()
        elif ext == '.json':
            self._read_json(images_file)
        elif ext in ('.pkl', '.pickle'):
            self._read_proposals()
        else:
            raise ValueError(f'{self.path}: boxes file must be .csv, .json or .pkl')
        self.video_ids = sorted({v for v, _ in self._boxes})

    def _add(self, video_id: str, timestamp, box=None, score: float = 1.0, size='norm'):
        key = (str(video_id), _time_key(timestamp))
        entries = self._boxes[key]
        if box is not None and score >= self.score_thr:
            entries.append((np.asarray(box, np.float64), float(score), size))

    def _read_proposals(self):
        # mmaction2's proposals pickle, read without running code from it
        for (movie, t), (boxes, scores) in read_proposals_pkl(self.path).items():
            self._add(movie, t)
            for box, score in zip(boxes, scores):
                self._add(movie, t, box, float(score))

    def _read_csv(self):
        if self._is_person_box_csv():
            for (movie, t), (boxes, scores) in read_person_box_csv(self.path).items():
                self._add(movie, t)
                for box, score in zip(boxes, scores):
                    self._add(movie, t, box, float(score))
            return
        seen = set()
        for _, row in iter_csv_rows(self.path):
            if not isinstance(row, CSVBox):  # a keyframe with nobody on it
                self._add(*row)
                continue
            key = (row.movie, row.timestamp, row.box)
            if key not in seen:  # an AVA file has one row per action of the same person
                seen.add(key)
                self._add(row.movie, row.timestamp, row.box)

    def _is_person_box_csv(self) -> bool:
        """PySlowFast's predicted boxes (``movie,ts,x1,y1,x2,y2,,score``: an empty action
        column) carry detector scores; annotation-style rows do not."""
        with open(self.path, encoding='utf-8-sig', errors='replace') as f:
            for line in f:
                fields = line.rstrip('\r\n').split(',')
                if len(fields) > 2:
                    return len(fields) == 8 and not fields[6].strip()
        return False

    @staticmethod
    def _number(value, where: str, what: str) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f'{where}: {what} {value!r} is not a number') from None
        if not math.isfinite(number):
            raise ValueError(f'{where}: {what} {value!r} is not finite')
        return number

    def _read_json(self, images_file: Optional[PathLike]):
        data = load_json(self.path)
        if isinstance(data, dict):
            if 'images' not in data or 'annotations' not in data:
                raise ValueError(f'{self.path}: a JSON object must hold "images" and '
                                 f'"annotations" (the *_min.json format)')
            images = self._images(data['images'], self.path)
            for image_id, (movie, ts, _) in images.items():
                self._add(movie, ts)
            self._read_entries(data['annotations'], images, self.path)
        elif isinstance(data, list):
            images = None
            if images_file is not None:
                images = self._images(load_json(images_file).get('images', []), images_file)
            self._read_entries(data, images, self.path)
        else:
            raise ValueError(f'{self.path}: expected a JSON object or list, '
                             f'got {type(data).__name__}')

    @staticmethod
    def _images(images, where) -> Dict[int, tuple]:
        out = {}
        for n, image in enumerate(images):
            try:
                out[image['id']] = (str(image['movie']), float(image['timestamp']),
                                    (float(image['height']), float(image['width'])))
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f'{where}: images[{n}] needs id, movie, timestamp, width and '
                                 f'height ({type(e).__name__}: {e})') from None
        return out

    def _read_entries(self, entries, images, where):
        for n, entry in enumerate(entries):
            loc = f'{where}: entry {n}'
            if not isinstance(entry, dict) or 'bbox' not in entry:
                raise ValueError(f'{loc} has no "bbox"')
            bbox = entry['bbox']
            if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4):
                raise ValueError(f'{loc}: bbox must be [x, y, w, h]; got {bbox!r}')
            xywh = np.asarray([self._number(v, loc, 'bbox value') for v in bbox])
            if xywh[2] <= 0 or xywh[3] <= 0:
                raise ValueError(f'{loc}: bbox {bbox!r} has no area ([x, y, w, h] in pixels)')
            box = xywh_to_xyxy(xywh)
            score = self._number(entry.get('score', 1.0), loc, 'score')
            if 'image_id' in entry and images is not None:
                if entry['image_id'] not in images:
                    raise ValueError(f'{loc}: image_id {entry["image_id"]} is not among the '
                                     f'images')
                movie, ts, size = images[entry['image_id']]
                self._add(movie, ts, box, score, size)
            elif ('video_id' in entry or 'movie' in entry) and 'timestamp' in entry:
                video_id = entry.get('video_id', entry.get('movie'))
                self._add(video_id, self._number(entry['timestamp'], loc, 'timestamp'), box,
                          score, None)
            else:
                raise ValueError(
                    f'{loc} has neither video_id/movie + timestamp nor an image_id that can be '
                    f'resolved (pass the *_min.json it belongs to as images_file / '
                    f'--boxes-images)')

    def has_video(self, video_id: str) -> bool:
        """Whether the file holds any keyframe of ``video_id``."""
        return video_id in self.video_ids

    def __call__(self, frame: np.ndarray, video_id: str = '', timestamp: float = 0.) -> Detections:
        entries = self._boxes.get((str(video_id), _time_key(timestamp)), [])
        if not entries:
            return _empty()
        h, w = frame.shape[:2]
        boxes = []
        for box, _, size in entries:
            if size == 'norm':
                box = denormalize_boxes(box, (h, w))
            elif size is not None:
                box = box * np.array([w / size[1], h / size[0]] * 2)
            boxes.append(box)
        scores = np.array([s for _, s, _ in entries], np.float32)
        boxes = clip_boxes(np.stack(boxes), (h, w))
        outside = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
        if outside.any():
            raise ValueError(
                f'{self.path}: a box of {video_id} at {timestamp} s lies outside the '
                f'{w}x{h} frame ({boxes[outside][0].round(1).tolist()} after clipping): '
                f'boxes for another video size?')
        return _sorted(boxes, scores)


def build_person_detector(kind: str, boxes: Optional[PathLike] = None,
                          boxes_images: Optional[PathLike] = None,
                          weights: Optional[PathLike] = None, score_thr: Optional[float] = None,
                          device='cpu'):
    """The detector ``kind`` (``hog``, ``fasterrcnn`` or ``file``) with its inputs.

    ``score_thr`` None keeps each detector's default.
    """
    kw = {} if score_thr is None else dict(score_thr=score_thr)
    if kind == 'hog':
        return HOGPersonDetector(**kw)
    if kind == 'fasterrcnn':
        if weights is None:
            raise ValueError('the fasterrcnn detector needs its weights file '
                             '(--detector-weights), e.g. torchvision\'s '
                             'fasterrcnn_resnet50_fpn_coco-258fb6c6.pth')
        return FasterRCNNPersonDetector(weights, device=device, **kw)
    if kind == 'file':
        if boxes is None:
            raise ValueError('the file detector needs a boxes file (--boxes)')
        return BoxesFilePersonDetector(boxes, images_file=boxes_images, **kw)
    raise ValueError(f'unknown person detector {kind!r}; choose hog, fasterrcnn or file')
