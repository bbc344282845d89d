"""Transforms over the AVA results dict; every one keeps the boxes on the right pixels.

Results dict keys (see ``AVAVideoDataset``):
    ``imgs``: uint8 ndarray (T, H, W, 3) RGB.
    ``proposals``: (M, 4) xyxy, pixels of ``imgs``. ``rois``: (M, 4) likewise, optional (the
    boxes the head pools from, written by ``BoxJitter``/``WidenBoxes``).
    ``proposal_scores``: (M,). ``gt_labels``: (M, 80) multi-hot, optional.
    ``img_shape``: (H, W) of ``imgs``, updated by every geometric transform;
    ``ori_shape``, ``movie``, ``timestamp``, ``img_id``: passed through.

Per-box keys (``proposals``, ``rois``, ``proposal_scores``, ``gt_labels``) stay aligned: a
transform that drops a box drops its row everywhere.

A typical training pipeline (the VideoMAE recipe)::

    [Resize(scale=256), RandomCrop(size=224), Flip(flip_ratio=0.5), ColorJitter(),
     BoxJitter(), PackActionInputs()]

and for validation/test::

    [Resize(scale=256), WidenBoxes(), PackActionInputs()]
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from videomae_det.registry import TRANSFORMS
from videomae_det.structures import ActionDataSample

BOX_KEYS = ('proposals', 'rois')
PER_BOX_KEYS = ('proposals', 'rois', 'proposal_scores', 'gt_labels')


def _map_boxes(results: dict, fn) -> None:
    for key in BOX_KEYS:
        if key in results:
            results[key] = fn(np.asarray(results[key], np.float64).reshape(-1, 4))


def _keep_boxes(results: dict, keep: np.ndarray) -> None:
    for key in PER_BOX_KEYS:
        if key in results:
            results[key] = np.asarray(results[key])[keep]


def _clip(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    out = boxes.copy()
    out[:, 0::2] = np.clip(out[:, 0::2], 0, width)
    out[:, 1::2] = np.clip(out[:, 1::2], 0, height)
    return out


@TRANSFORMS.register_module()
class Resize(BaseTransform):
    """Resize so that the short side is ``scale`` pixels (aspect ratio kept).

    ``rounding`` of the long side: ``'round'`` (ours, as mmaction2's ``int(x + 0.5)``) or
    ``'floor'`` (VideoMAE-Action-Detection's ``int(x)``).
    Updates ``imgs``, boxes, ``img_shape`` and ``scale_factor`` (cumulative (sx, sy)).
    """

    def __init__(self, scale: int = 256, interpolation: str = 'bilinear',
                 rounding: str = 'round'):
        if rounding not in ('round', 'floor'):
            raise ValueError(f"Resize rounding must be 'round' or 'floor', got {rounding!r}")
        self.rounding = rounding
        self.scale = int(scale)
        self.interpolation = dict(bilinear=cv2.INTER_LINEAR, area=cv2.INTER_AREA,
                                  nearest=cv2.INTER_NEAREST, bicubic=cv2.INTER_CUBIC)[interpolation]

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        h, w = imgs.shape[1:3]
        to_int = int if self.rounding == 'floor' else (lambda v: int(round(v)))
        if h <= w:
            new_h, new_w = self.scale, to_int(w * self.scale / h)
        else:
            new_h, new_w = to_int(h * self.scale / w), self.scale
        if (new_h, new_w) != (h, w):
            out = np.empty((imgs.shape[0], new_h, new_w, 3), np.uint8)
            for f, dst in zip(imgs, out):  # cv2 writes straight into the clip array
                cv2.resize(f, (new_w, new_h), dst=dst, interpolation=self.interpolation)
            results['imgs'] = out
        sx, sy = new_w / w, new_h / h
        _map_boxes(results, lambda b: b * np.array([sx, sy, sx, sy]))
        prev = results.get('scale_factor', (1.0, 1.0))
        results['scale_factor'] = (prev[0] * sx, prev[1] * sy)
        results['img_shape'] = (new_h, new_w)
        return results

    def __repr__(self):
        return f'{type(self).__name__}(scale={self.scale})'


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Random ``size`` crop (int for a square, or (w, h); smaller images keep their size).

    Boxes are shifted and clipped to the crop; boxes left narrower or lower than
    ``min_box_size`` pixels are dropped with their labels, scores and rois. Up to ``max_tries``
    crops are drawn to keep at least one box; if none does, the sample is rejected (returns
    None, so mmengine's dataset fetches another one while training).
    Writes ``crop_bbox`` (x1, y1, x2, y2) in the input pixels.
    """

    def __init__(self, size: Union[int, Tuple[int, int]] = 224, min_box_size: float = 1.0,
                 max_tries: int = 10):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.min_box_size = min_box_size
        self.max_tries = max_tries

    def transform(self, results: dict) -> Optional[dict]:
        imgs = results['imgs']
        h, w = imgs.shape[1:3]
        cw, ch = min(self.size[0], w), min(self.size[1], h)
        proposals = np.asarray(results.get('proposals', np.zeros((0, 4))),
                               np.float64).reshape(-1, 4)
        for _ in range(self.max_tries):
            x0 = np.random.randint(0, w - cw + 1)
            y0 = np.random.randint(0, h - ch + 1)
            moved = _clip(proposals - [x0, y0, x0, y0], ch, cw)
            keep = ((moved[:, 2] - moved[:, 0] >= self.min_box_size)
                    & (moved[:, 3] - moved[:, 1] >= self.min_box_size))
            if keep.any() or len(proposals) == 0:
                break
        else:
            return None
        results['imgs'] = imgs[:, y0:y0 + ch, x0:x0 + cw]
        _map_boxes(results, lambda b: _clip(b - [x0, y0, x0, y0], ch, cw))
        _keep_boxes(results, keep)
        results['img_shape'] = (ch, cw)
        results['crop_bbox'] = (x0, y0, x0 + cw, y0 + ch)
        return results

    def __repr__(self):
        return f'{type(self).__name__}(size={self.size})'


@TRANSFORMS.register_module()
class Flip(BaseTransform):
    """Horizontal flip with probability ``flip_ratio``; boxes x → W − x. Writes ``flip``."""

    def __init__(self, flip_ratio: float = 0.5):
        self.flip_ratio = flip_ratio

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.flip_ratio)
        results['flip'] = flip
        if flip:
            imgs = results['imgs']
            w = imgs.shape[2]
            # cv2.flip into a contiguous array: later steps would otherwise copy a
            # negative-stride view element by element (several times slower)
            out = np.empty(imgs.shape, np.uint8)
            for f, dst in zip(imgs, out):
                cv2.flip(f, 1, dst=dst)
            results['imgs'] = out
            _map_boxes(results, lambda b: np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], 1))
        return results


# ITU-R BT.601 luma weights (R, G, B): the grey used by contrast and saturation
_LUMA = np.array([0.299, 0.587, 0.114])


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Random brightness, contrast and saturation (and optionally hue), the same for every
    frame of a clip so motion is not faked.

    Factors are drawn uniformly from ``[1 − x, 1 + x]``; brightness scales the pixels,
    contrast moves them towards the clip's mean grey, saturation towards each pixel's grey.
    The three compose into one 3×4 colour matrix applied in a single pass (``cv2.transform``,
    uint8 saturating). ``hue`` (a fraction of the colour wheel, 0 = off) rotates hue in HSV.
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4,
                 hue: float = 0.0):
        self.brightness, self.contrast, self.saturation, self.hue = \
            brightness, contrast, saturation, hue

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        b = np.random.uniform(1 - self.brightness, 1 + self.brightness)
        c = np.random.uniform(1 - self.contrast, 1 + self.contrast)
        s = np.random.uniform(1 - self.saturation, 1 + self.saturation)
        # cv2.mean per frame: reads crop views in place, far cheaper than a numpy reduction
        mean_grey = float(np.mean([cv2.mean(f)[:3] for f in imgs], axis=0) @ _LUMA)
        # saturation: s·I + (1 − s)·1·lumaᵀ; contrast c and brightness b scale it, and
        # contrast adds (1 − c)·(mean grey after brightness)
        matrix = c * b * (s * np.eye(3) + (1 - s) * np.outer(np.ones(3), _LUMA))
        bias = (1 - c) * b * mean_grey
        m = np.concatenate([matrix, np.full((3, 1), bias)], 1).astype(np.float32)
        out = np.empty(imgs.shape, np.uint8)
        for f, dst in zip(imgs, out):  # per frame: cv2 reads crop views without a copy
            cv2.transform(f, m, dst=dst)
        if self.hue > 0:
            shift = np.random.uniform(-self.hue, self.hue) * 180  # OpenCV hue range is 0..180
            for f in out:
                hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV)
                hue = (hsv[..., 0].astype(np.int16) + int(round(shift))) % 180
                hsv[..., 0] = hue.astype(np.uint8)
                f[...] = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        results['imgs'] = out
        return results


@TRANSFORMS.register_module()
class BoxJitter(BaseTransform):
    """Training jitter of the recipe: ``rois`` = ``proposals`` with each side moved by a
    uniform fraction of the box size: x1 by ``x1`` × w, x2 by ``x2`` × w, y1 by ``y1`` × h,
    y2 by ``y2`` × h (defaults −20%..+10%, −10%..+20%, −10%..+5%, −5%..+10%), clipped to
    the image. ``proposals`` (the boxes labels belong to) are unchanged."""

    def __init__(self, x1=(-0.2, 0.1), x2=(-0.1, 0.2), y1=(-0.1, 0.05), y2=(-0.05, 0.1)):
        self.low = np.array([x1[0], y1[0], x2[0], y2[0]])
        self.high = np.array([x1[1], y1[1], x2[1], y2[1]])

    def transform(self, results: dict) -> dict:
        boxes = np.asarray(results['proposals'], np.float64).reshape(-1, 4)
        wh = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1)
        size = np.concatenate([wh, wh], 1)  # (w, h, w, h) per box
        delta = np.random.uniform(self.low, self.high, size=boxes.shape) * size
        rois = _clip(boxes + delta, *results['img_shape'])
        # a jitter that folds a box (possible for thin boxes) keeps the original box
        bad = (rois[:, 2] - rois[:, 0] < 1) | (rois[:, 3] - rois[:, 1] < 1)
        rois[bad] = boxes[bad]
        results['rois'] = rois
        return results


@TRANSFORMS.register_module()
class WidenBoxes(BaseTransform):
    """Test-time context for pooling: ``rois`` = ``proposals`` widened by ``width_ratio`` of
    their width (half on each side) and heightened by ``height_ratio`` of their height,
    clipped to the image (recipe: 10% and 5%)."""

    def __init__(self, width_ratio: float = 0.1, height_ratio: float = 0.05):
        self.width_ratio, self.height_ratio = width_ratio, height_ratio

    def transform(self, results: dict) -> dict:
        boxes = np.asarray(results['proposals'], np.float64).reshape(-1, 4)
        pad_w = (boxes[:, 2] - boxes[:, 0]) * self.width_ratio / 2
        pad_h = (boxes[:, 3] - boxes[:, 1]) * self.height_ratio / 2
        rois = boxes + np.stack([-pad_w, -pad_h, pad_w, pad_h], 1)
        results['rois'] = _clip(rois, *results['img_shape'])
        return results


@TRANSFORMS.register_module()
class RepeatKeyframe(BaseTransform):
    """Replace every frame with the keyframe (position T // 2): the static-image baseline that
    shows how much a model gains from motion."""

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        key = imgs.shape[0] // 2
        results['imgs'] = np.repeat(imgs[key:key + 1], imgs.shape[0], axis=0)
        return results


@TRANSFORMS.register_module()
class PackActionInputs(BaseTransform):
    """Results dict -> ``dict(inputs=uint8 Tensor (3, T, H, W) RGB,
    data_samples=ActionDataSample)``.

    Per-box arrays become float32 tensors (``proposals``, ``rois``, ``proposal_scores``,
    ``gt_labels``, whichever are present); ``meta_keys`` present in the results become
    metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = ('img_id', 'movie', 'timestamp', 'img_shape',
                                                   'ori_shape', 'scale_factor', 'flip',
                                                   'crop_bbox')):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> Dict[str, object]:
        imgs = results['imgs']
        if imgs.dtype != np.uint8 or imgs.ndim != 4:
            raise ValueError(f'imgs must be uint8 (T, H, W, 3); got {imgs.dtype} {imgs.shape}')
        inputs = torch.from_numpy(np.ascontiguousarray(imgs.transpose(3, 0, 1, 2)))
        sample = ActionDataSample()
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        for key in PER_BOX_KEYS:
            if key in results:
                value = torch.from_numpy(np.asarray(results[key], np.float32))
                sample.set_field(value.reshape(-1, 4) if key in BOX_KEYS else value, key)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self):
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
