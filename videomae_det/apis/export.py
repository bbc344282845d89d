"""ONNX export of the detector: the backbone and the RoI head as one graph.

The exported graph takes what the model sees after preprocessing and the person boxes:

- ``clip``: float32 ``(1, 3, T, H, W)``, normalised (the data preprocessor's output; H and
  W multiples of the backbone's patch size). Its size is fixed at export (the position embedding is resized for
  it once).
- ``rois``: float32 ``(K, 5)`` ``[0, x1, y1, x2, y2]`` in pixels of ``clip``; K is dynamic
  (any number of people, including 0).

and returns ``logits`` and ``scores`` (= sigmoid(logits)), float32 ``(K, 80)``; column
``i`` is AVA action id ``i + 1``. Person-detector scores are not applied.

torchvision's ``roi_align`` exports to ONNX ``RoiAlign`` (opset ≥ 16 carries
``coordinate_transformation_mode``, so ``aligned=True`` maps to ``half_pixel`` and the
exported boxes land where PyTorch's do).
"""
import os
from typing import Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from videomae_det.utils.atomic import atomic_open

PathLike = Union[str, os.PathLike]


class ExportableDetector(nn.Module):
    """``(clip, rois) -> (logits, scores)`` of an ``AVADetector`` (see module doc)."""

    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector

    def forward(self, clip: Tensor, rois: Tensor) -> Tuple[Tensor, Tensor]:
        feat = self.detector.extract_feat(clip)
        logits = self.detector.roi_head(feat, rois)
        return logits, logits.sigmoid()


def export_onnx(detector: nn.Module, path: PathLike, input_shape: Sequence[int],
                opset: int = 17, example_rois: int = 2) -> None:
    """Export ``detector`` (eval mode, CPU) to ``path``, written atomically.

    Args:
        detector: an ``AVADetector``.
        path: the ``.onnx`` file.
        input_shape: ``(T, H, W)`` of the clip; H and W multiples of the backbone's patch
            size (checked here, naming it).
        opset: ONNX opset, at least 16 (RoiAlign with half-pixel alignment).
        example_rois: boxes in the tracing example (the exported K is dynamic anyway).
    """
    if opset < 16:
        raise ValueError(f'opset {opset} < 16 cannot express aligned RoIAlign')
    t, h, w = (int(v) for v in input_shape)
    patch = int(detector.backbone.patch_size)
    if h % patch or w % patch:
        raise ValueError(f'input shape {h}x{w} is not a multiple of the backbone\'s patch size '
                         f'{patch}; choose H and W that are')
    wrapper = ExportableDetector(detector).eval().cpu()
    clip = torch.randn(1, 3, t, h, w)
    boxes = torch.tensor([[0., w * 0.1, h * 0.1, w * 0.6, h * 0.9]]).repeat(example_rois, 1)
    with torch.no_grad(), atomic_open(path, 'wb') as f:
        # the TorchScript exporter: it knows torchvision's roi_align (the dynamo exporter
        # would need onnxscript, which we do not ship)
        torch.onnx.export(
            wrapper, (clip, boxes), f, input_names=['clip', 'rois'],
            output_names=['logits', 'scores'],
            dynamic_axes={'rois': {0: 'num_boxes'}, 'logits': {0: 'num_boxes'},
                          'scores': {0: 'num_boxes'}},
            opset_version=opset, dynamo=False)
