"""Box helpers. Every box here is ``xyxy`` (x1, y1, x2, y2); each function says whether
coordinates are pixels or normalised to [0, 1] by the image width and height.

Works on numpy arrays and torch tensors alike (pairwise ops live in torchvision.ops).
"""
from typing import Tuple, Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]


def _stack_last(cols, like: Array) -> Array:
    if isinstance(like, torch.Tensor):
        return torch.stack(cols, dim=-1)
    return np.stack(cols, axis=-1)


def xywh_to_xyxy(boxes: Array) -> Array:
    """(..., 4) boxes as (x, y, w, h) -> (x1, y1, x2, y2), same units."""
    x, y, w, h = (boxes[..., i] for i in range(4))
    return _stack_last([x, y, x + w, y + h], boxes)


def xyxy_to_xywh(boxes: Array) -> Array:
    """(..., 4) boxes as (x1, y1, x2, y2) -> (x, y, w, h), same units."""
    x1, y1, x2, y2 = (boxes[..., i] for i in range(4))
    return _stack_last([x1, y1, x2 - x1, y2 - y1], boxes)


def normalize_boxes(boxes: Array, img_shape: Tuple[int, int]) -> Array:
    """xyxy pixel boxes (..., 4) -> normalised to [0, 1]; ``img_shape`` is (height, width)."""
    h, w = img_shape
    scale = [w, h, w, h]
    if isinstance(boxes, torch.Tensor):
        return boxes / boxes.new_tensor(scale)
    return boxes / np.asarray(scale, dtype=boxes.dtype if boxes.dtype.kind == 'f' else np.float64)


def denormalize_boxes(boxes: Array, img_shape: Tuple[int, int]) -> Array:
    """xyxy normalised boxes (..., 4) -> pixels; ``img_shape`` is (height, width)."""
    h, w = img_shape
    scale = [w, h, w, h]
    if isinstance(boxes, torch.Tensor):
        return boxes * boxes.new_tensor(scale)
    return boxes * np.asarray(scale, dtype=boxes.dtype if boxes.dtype.kind == 'f' else np.float64)


def clip_boxes(boxes: Array, img_shape: Tuple[int, int]) -> Array:
    """Clip xyxy pixel boxes (..., 4) to the image; ``img_shape`` is (height, width)."""
    h, w = img_shape
    if isinstance(boxes, torch.Tensor):
        out = boxes.clone()
        out[..., 0::2] = out[..., 0::2].clamp(0, w)
        out[..., 1::2] = out[..., 1::2].clamp(0, h)
        return out
    out = np.array(boxes, copy=True)
    out[..., 0::2] = np.clip(out[..., 0::2], 0, w)
    out[..., 1::2] = np.clip(out[..., 1::2], 0, h)
    return out


def box_areas(boxes: Array) -> Array:
    """Areas of xyxy boxes (..., 4), plain width × height (no +1), any units."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
