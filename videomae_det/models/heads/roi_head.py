"""RoI action head of VideoMAE detection: one person box -> 80 action logits.

The recipe of the VideoMAE paper (arXiv:2203.12602, section 4.4) and its reference code:
the backbone's feature map is averaged over time, each person box is RoI-aligned to a 7×7
grid at stride 16, max-pooled to one D-vector, passed through dropout and a linear
classifier. Labels are multi-label (sigmoid per class), so there is no softmax anywhere.
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn
from torchvision.ops import roi_align

from videomae_det.registry import MODELS


@MODELS.register_module()
class AVARoIHead(BaseModule):
    """Temporal mean -> RoIAlign -> spatial max -> dropout -> Linear(D, num_classes).

    Args:
        in_channels: D, the channel count of the backbone's feature map.
        num_classes: output columns; column ``i`` is AVA action id ``i + 1`` (80 for AVA).
        roi_size: RoIAlign output grid (7 -> 7×7 bins).
        spatial_scale: feature cells per input pixel, 1 / the backbone's patch size.
            ``AVADetector`` derives it from its backbone; a head built on its own needs it.
        sampling_ratio: bilinear samples per bin and axis (0 = adaptive, as torchvision).
        aligned: RoIAlign's half-pixel correction. True here: a box's pixel coordinates
            then land on the feature grid where the patch that saw those pixels sits (a
            cell's value lives at its centre). Without it every box is shifted by half a
            cell, 8 input pixels at stride 16 — a sizeable fraction of a 30-pixel person.
        dropout: dropout on the pooled vector before the classifier (0.5 in the recipe).
        background_class: mmaction2's convention: ``fc_cls`` has ``num_classes + 1``
            outputs, column 0 the background class, which is dropped from the logits (so
            they stay ``num_classes`` wide, column ``i`` = action id ``i + 1``). Lets
            mmaction2's released detectors load as they are.
        init_std: std of the classifier's normal init (bias 0).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int = 80,
                 roi_size: int = 7,
                 spatial_scale: Optional[float] = None,
                 sampling_ratio: int = 0,
                 aligned: bool = True,
                 dropout: float = 0.5,
                 background_class: bool = False,
                 init_std: float = 0.01,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if spatial_scale is None or not spatial_scale > 0:
            raise ValueError(f'spatial_scale must be 1 / the backbone patch size, got '
                             f'{spatial_scale!r}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.roi_size = roi_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.background_class = background_class
        self.fc_cls = nn.Linear(in_channels, num_classes + int(background_class))
        nn.init.normal_(self.fc_cls.weight, std=init_std)
        nn.init.zeros_(self.fc_cls.bias)

    def pool(self, feat: Tensor, rois: Tensor) -> Tensor:
        """Feature map (B, D, T', H', W') and rois (K, 5) -> pooled features (K, D).

        ``rois`` rows are ``[batch index, x1, y1, x2, y2]`` in input pixels (xyxy).
        K may be 0; the result is then (0, D) and still part of the autograd graph.
        """
        if feat.dim() != 5:
            raise ValueError(f'expected a (B, D, T, H, W) feature map, got {tuple(feat.shape)}')
        if rois.dim() != 2 or rois.shape[1] != 5:
            raise ValueError(
                f'expected rois (K, 5) [batch, x1, y1, x2, y2], got {tuple(rois.shape)}')
        frame_map = feat.mean(dim=2)  # (B, D, H', W'): the detector sees the clip as one map
        # roi_align runs in the map's dtype; under AMP keep the boxes in the same dtype
        grid = roi_align(frame_map, rois.to(frame_map.dtype), output_size=self.roi_size,
                         spatial_scale=self.spatial_scale,
                         sampling_ratio=self.sampling_ratio, aligned=self.aligned)
        return grid.amax(dim=(2, 3))

    def forward(self, feat: Tensor, rois: Tensor) -> Tensor:
        """Feature map (B, D, T', H', W'), rois (K, 5) in input pixels -> logits (K, C)."""
        logits = self.fc_cls(self.dropout(self.pool(feat, rois)))
        return logits[:, 1:] if self.background_class else logits

    def loss(self, logits: Tensor, gt_labels: Tensor) -> Dict[str, Tensor]:
        """Sigmoid BCE, averaged over boxes and classes.

        Args:
            logits: (K, C) raw scores.
            gt_labels: (K, C) multi-hot {0, 1}.

        Returns ``loss_action`` (summed into the training loss by mmengine) and, for the log,
        ``recall@thr0.5`` / ``prec@thr0.5`` over positives (not losses: names without "loss").
        With K == 0 the loss is an exact 0 that still reaches every parameter, so a batch
        without boxes trains nothing but keeps distributed gradient reduction in step.
        """
        if logits.shape != gt_labels.shape:
            raise ValueError(
                f'logits {tuple(logits.shape)} and gt_labels {tuple(gt_labels.shape)} differ')
        if logits.shape[0] == 0:
            zero = logits.sum() * 0.
            return dict(loss_action=zero)
        target = gt_labels.to(logits.dtype)
        loss = F.binary_cross_entropy_with_logits(logits, target, reduction='mean')
        with torch.no_grad():
            pred = logits > 0
            pos = target > 0.5
            true_pos = (pred & pos).sum().float()
            recall = true_pos / pos.sum().clamp(min=1)
            precision = true_pos / pred.sum().clamp(min=1)
        return {'loss_action': loss, 'recall@thr0.5': recall, 'prec@thr0.5': precision}
