"""AVA action detector: VideoMAE ViT backbone + RoI action head, as an mmengine model.

One sample is a clip around a keyframe with the person boxes of that keyframe (see
:class:`videomae_det.structures.ActionDataSample`). The backbone turns the clip into a
feature map (B, D, T', H', W'); the head classifies every person box of every clip.
Boxes per clip vary in number (including zero); they are concatenated into one (K, 5)
``rois`` tensor whose first column says which clip of the batch a box belongs to.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor

from videomae_det.action_classes import ActionClasses, LabelMapSpec
from videomae_det.registry import MODELS
from videomae_det.structures import ActionDataSample, normalize_boxes

SampleList = List[ActionDataSample]


@MODELS.register_module()
class AVADetector(BaseModel):
    """Spatio-temporal action detector (VideoMAE, arXiv:2203.12602, AVA recipe).

    Args:
        backbone: config of the backbone (``VisionTransformer``); its ``pretrained`` key is
            the VideoMAE checkpoint loaded (safely, with a key report) by ``init_weights``.
        roi_head: config of the head (``AVARoIHead``). Derived from the backbone, so a config
            leaves them out: ``in_channels`` (its ``embed_dim``) and ``spatial_scale``
            (1 / its ``patch_size``; a stated value that disagrees is an error).
        data_preprocessor: config of ``ActionDataPreprocessor`` (normalise, pad, stack); its
            ``pad_size_divisor`` is derived from the backbone's patch size likewise.
        label_map: the classes the head predicts: None (AVA's 80 actions), a label map file
            or ``{id: name}``; the head's ``num_classes`` is derived from it
            (``self.action_classes``; score column ``i`` is id ``action_classes.ids[i]``).
        warm_start: a detector checkpoint trained on another class set to start from (path,
            or ``dict(checkpoint=path, match='id' | 'name')``): ``init_weights`` copies all of
            it but the classifier, whose rows are copied for the classes both sets share (by
            id, or by name) and kept fresh for the others; the log lists which
            (:mod:`videomae_det.models.detectors.warm_start`). ``load_from`` instead needs
            the same classes.
        box_convention: how test-time proposals are read. ``'exclusive'`` (ours, default):
            ``x2 = x + w``, boxes used as given. ``'inclusive'``: the maskrcnn-benchmark
            convention of VideoMAE-Action-Detection, ``x2 = x + w - 1`` in pixels of the
            stored frame (clamped to the frame), then scaled to the input; widths count
            ``x2 - x1 + 1`` and widened boxes are clipped to ``[0, W - 1]``.
        test_widen: ``(width_ratio, height_ratio)`` to widen proposals inside the model at
            test time (VideoMAE-Action-Detection's ``extend``, (0.1, 0.05)), in the box
            convention above; None (ours) leaves it to the pipeline's ``WidenBoxes``.
            Samples that carry ``rois`` (from the pipeline) are never changed.
        init_cfg: mmengine init config (unused by the recipe).

    ``forward(inputs, data_samples, mode)``:
        inputs: float (B, 3, T, H, W) from the data preprocessor.
        ``mode='loss'``: dict of losses (``loss_action``) and logged numbers.
        ``mode='predict'``: the data samples with ``pred_bboxes`` (M, 4) normalised xyxy
            and ``pred_scores`` (M, C) = sigmoid(logit) × proposal score.
        ``mode='tensor'``: logits (K, C) for the concatenated boxes of the batch.
    """

    def __init__(self,
                 backbone: dict,
                 roi_head: dict,
                 data_preprocessor: Optional[dict] = None,
                 label_map: LabelMapSpec = None,
                 warm_start: Union[None, str, dict] = None,
                 box_convention: str = 'exclusive',
                 test_widen: Optional[Sequence[float]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.action_classes = ActionClasses.resolve(label_map)
        if isinstance(warm_start, str):
            warm_start = dict(checkpoint=warm_start)
        if warm_start is not None:
            unknown = set(warm_start) - {'checkpoint', 'match'}
            if unknown or not warm_start.get('checkpoint'):
                raise ValueError(f"model.warm_start must be a path or dict(checkpoint=..., "
                                 f"match='id'|'name'); got {warm_start!r}")
            if warm_start.get('match', 'id') not in ('id', 'name'):
                raise ValueError(f"model.warm_start.match must be 'id' or 'name', got "
                                 f"{warm_start['match']!r}")
        self.warm_start = warm_start
        if box_convention not in ('exclusive', 'inclusive'):
            raise ValueError(f"model.box_convention must be 'exclusive' or 'inclusive', got "
                             f'{box_convention!r}')
        if test_widen is not None and (len(test_widen) != 2 or min(test_widen) < 0):
            raise ValueError(f'model.test_widen must be (width_ratio, height_ratio) >= 0, '
                             f'got {test_widen!r}')
        self.box_convention = box_convention
        self.test_widen = None if test_widen is None else tuple(float(r) for r in test_widen)
        self.backbone = MODELS.build(backbone)
        patch = int(self.backbone.patch_size)
        roi_head = dict(roi_head)
        roi_head.setdefault('in_channels', self.backbone.embed_dim)
        width = roi_head.setdefault('num_classes', len(self.action_classes))
        if width != len(self.action_classes):
            raise ValueError(
                f'model.roi_head.num_classes={width} disagrees with the label map '
                f'({self.action_classes.source}: {len(self.action_classes)} classes). Leave it '
                f'out: it is derived from model.label_map.')
        scale = roi_head.setdefault('spatial_scale', 1 / patch)
        if abs(float(scale) * patch - 1) > 1e-6:
            raise ValueError(
                f'model.roi_head.spatial_scale={scale} disagrees with the backbone\'s patch '
                f'size {patch} (it must be 1/{patch}). Leave it out: it is derived.')
        self.roi_head = MODELS.build(roi_head)
        if hasattr(self.data_preprocessor, 'fit_to_patch'):
            self.data_preprocessor.fit_to_patch(patch)

    def init_weights(self) -> None:
        """Backbone ``pretrained`` weights, then (if given) the ``warm_start`` detector."""
        super().init_weights()
        if self.warm_start is not None:
            from videomae_det.models.detectors.warm_start import warm_start
            warm_start(self, self.warm_start['checkpoint'], self.warm_start.get('match', 'id'))

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Clips (B, 3, T, H, W), normalised -> feature map (B, D, T/tubelet, H/patch, W/patch)."""
        return self.backbone(inputs)

    def rois_of(self, data_samples: SampleList) -> Tensor:
        """Pooling boxes of a batch -> (K, 5) ``[batch index, x1, y1, x2, y2]``, input pixels.

        Each sample contributes its ``rois`` (the jittered/widened boxes) when present,
        else its ``proposals``, read in :attr:`box_convention` and, at test time, widened
        by :attr:`test_widen`.
        """
        rows = []
        for i, sample in enumerate(data_samples):
            if 'rois' in sample:
                boxes = torch.as_tensor(sample.rois, dtype=torch.float32).reshape(-1, 4)
            else:
                boxes = self._test_boxes(sample)
            rows.append(torch.cat([boxes.new_full((len(boxes), 1), float(i)), boxes], dim=1))
        return torch.cat(rows, dim=0) if rows else torch.zeros(0, 5)

    def _test_boxes(self, sample: ActionDataSample) -> Tensor:
        boxes = torch.as_tensor(sample.proposals, dtype=torch.float32).reshape(-1, 4)
        inclusive = self.box_convention == 'inclusive'
        if inclusive:
            boxes = inclusive_boxes(boxes, sample.img_shape,
                                    sample.metainfo.get('ori_shape', sample.img_shape))
        if self.test_widen is not None and not self.training:
            boxes = widen_boxes(boxes, self.test_widen, sample.img_shape, inclusive)
        return boxes

    def _logits(self, inputs: Tensor, data_samples: SampleList) -> Tensor:
        feat = self.extract_feat(inputs)
        rois = self.rois_of(data_samples).to(feat.device)
        return self.roi_head(feat, rois)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[SampleList] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], SampleList, Tensor]:
        if data_samples is None:
            raise ValueError('AVADetector needs data_samples: they carry the person boxes')
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._logits(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Sigmoid BCE of every ground-truth box's logits against its multi-hot labels."""
        logits = self._logits(inputs, data_samples)
        num_classes = self.roi_head.num_classes
        gt_labels = torch.cat([
            torch.as_tensor(s.gt_labels, dtype=torch.float32).reshape(-1, num_classes)
            for s in data_samples
        ]).to(logits.device)
        return self.roi_head.loss(logits, gt_labels)

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Sets ``pred_bboxes`` (M, 4 normalised xyxy) and ``pred_scores`` (M, C) per sample.

        A clip's result does not depend on what it is batched with: padding a clip to a
        larger neighbour adds tokens that global attention sees, so clips are scored in
        groups of equal size, each cropped back to the padding it gets alone.
        """
        logits = self._grouped_logits(inputs, data_samples)
        scores = logits.float().sigmoid().cpu()
        start = 0
        for sample in data_samples:
            proposals = _float_cpu(sample.proposals).reshape(-1, 4)
            m = len(proposals)
            box_scores = (_float_cpu(sample.proposal_scores).reshape(m)
                          if 'proposal_scores' in sample else torch.ones(m))
            sample.pred_scores = scores[start:start + m] * box_scores[:, None]
            sample.pred_bboxes = normalize_boxes(proposals, sample.img_shape).clamp(0, 1)
            start += m
        return data_samples

    def _grouped_logits(self, inputs: Tensor, data_samples: SampleList) -> Tensor:
        """Logits (K, 80) in batch order, each clip's equal to what it gets alone.

        The backbone runs once per group of equal-size clips; the head, which costs little,
        runs clip by clip: a matrix product over a different number of boxes may round
        differently (BLAS picks its kernel by size), which would make scores depend on the
        batch in the last bit.
        """
        groups: Dict[tuple, List[int]] = {}
        for i, sample in enumerate(data_samples):
            groups.setdefault(tuple(sample.metainfo.get('img_shape', ())), []).append(i)
        div = max(int(getattr(self.data_preprocessor, 'pad_size_divisor', None) or 1), 1)
        crop = bool(getattr(self.data_preprocessor, 'crop_to_divisor', False))
        per_sample: List[Optional[Tensor]] = [None] * len(data_samples)
        for shape, indices in groups.items():
            clips = inputs[indices]
            if len(groups) > 1:  # crop to the padding (or cropping) this group gets alone
                h, w = shape
                h, w = (h // div * div, w // div * div) if crop else (-(-h // div) * div,
                                                                      -(-w // div) * div)
                clips = clips[..., :h, :w]
            feat = self.extract_feat(clips)
            for j, i in enumerate(indices):
                rois = self.rois_of([data_samples[i]]).to(feat.device)
                per_sample[i] = self.roi_head(feat[j:j + 1], rois)
        return torch.cat(per_sample, dim=0)


def _float_cpu(x) -> Tensor:
    """Tensor/ndarray/list -> float32 CPU tensor (predictions are gathered on the CPU)."""
    return torch.as_tensor(x).detach().to('cpu', torch.float32)


def inclusive_boxes(boxes: Tensor, img_shape, ori_shape) -> Tensor:
    """Our boxes (K, 4) xyxy input pixels, ``x2 = x + w`` -> maskrcnn-benchmark's.

    maskrcnn-benchmark (VideoMAE-Action-Detection's box lists) reads ``[x, y, w, h]`` of the
    stored frame as ``x2 = x + max(w - 1, 0)``, clamps every coordinate to
    ``[0, W0 - 1]`` of that frame, then scales by the resize ratio; with ``r = W / W0``
    that is ``x2 - r`` in input pixels, clamped to ``[0, (W0 - 1) r]``.
    """
    (h, w), (h0, w0) = img_shape[:2], ori_shape[:2]
    rx, ry = w / w0, h / h0
    x1, y1, x2, y2 = boxes.unbind(1)
    x2 = x1 + (x2 - x1 - rx).clamp(min=0)
    y2 = y1 + (y2 - y1 - ry).clamp(min=0)
    out = torch.stack([x1, y1, x2, y2], 1)
    out[:, 0::2] = out[:, 0::2].clamp(0, (w0 - 1) * rx)
    out[:, 1::2] = out[:, 1::2].clamp(0, (h0 - 1) * ry)
    return out


def widen_boxes(boxes: Tensor, ratios, img_shape, inclusive: bool = False) -> Tensor:
    """Boxes (K, 4) xyxy input pixels widened by ``ratios[0]`` of their width (half each
    side) and ``ratios[1]`` of their height, clipped to the image ``img_shape`` (H, W).

    ``inclusive``: widths are ``x2 - x1 + 1`` and the clip is ``[0, W - 1]``
    (maskrcnn-benchmark's ``BoxList.extend``); else ``x2 - x1`` and ``[0, W]``.
    """
    h, w = img_shape[:2]
    one = 1. if inclusive else 0.
    pad_w = (boxes[:, 2] - boxes[:, 0] + one) * ratios[0] / 2
    pad_h = (boxes[:, 3] - boxes[:, 1] + one) * ratios[1] / 2
    out = boxes + torch.stack([-pad_w, -pad_h, pad_w, pad_h], 1)
    out[:, 0::2] = out[:, 0::2].clamp(0, w - one)
    out[:, 1::2] = out[:, 1::2].clamp(0, h - one)
    return out
