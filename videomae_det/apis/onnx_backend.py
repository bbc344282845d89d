"""ONNX Runtime as the inference backend of ``detect_video`` / ``tools/infer.py``.

The graph from ``tools/export_onnx.py`` holds the backbone and the RoI head (clip + boxes ->
logits). Everything around it stays the PyTorch detector's own code, so both backends agree
by construction except for the graph's numerics: the config's test pipeline and data
preprocessor make the clip, the detector's ``rois_of`` makes the pooling boxes (test-time
widening, box convention), and ``AVADetector.predict`` turns logits into scores
(sigmoid × person score) and normalised boxes.

The exported clip size is fixed (the position embedding is resized for it once), so a video
whose clips come out at another size is refused with the ``--shape`` to export for it
(:func:`model_input_shape` computes it).
"""
import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

PathLike = Union[str, os.PathLike]


def model_input_shape(model: nn.Module, height: int, width: int) -> Tuple[int, int, int]:
    """``(T, H, W)`` of the model input that a ``height`` × ``width`` video gives (after the
    config's test pipeline and the data preprocessor's padding)."""
    from videomae_det.apis.inference import ClipPreparer, clip_spec_of
    spec = clip_spec_of(model.cfg)
    clip = np.zeros((spec.clip_len, height, width, 3), np.uint8)
    sample = ClipPreparer(model.cfg)(clip, np.array([[0, 0, width / 2, height / 2]]),
                                     np.ones(1), 'probe', 0.0)
    data = model.data_preprocessor(dict(inputs=[sample['inputs']],
                                        data_samples=[sample['data_samples']]), False)
    return tuple(int(v) for v in data['inputs'].shape[2:])


class OnnxRuntimeDetector:
    """A detector whose backbone + RoI head run in ONNX Runtime.

    Args:
        detector: the PyTorch ``AVADetector`` of the same config (its weights are not used;
            its preprocessing and box handling are).
        onnx_path: a file from ``tools/export_onnx.py``.
        providers: ONNX Runtime execution providers (default: CUDA when the detector is on
            a GPU and the runtime has it, else CPU).

    It offers what ``detect_video`` uses: ``cfg`` and ``test_step``.
    """

    def __init__(self, detector: nn.Module, onnx_path: PathLike,
                 providers: Optional[Sequence[str]] = None):
        try:
            import onnxruntime as ort
        except ImportError as e:  # an optional dependency
            raise ImportError('--backend onnxruntime needs the onnxruntime package '
                              '(pip install onnxruntime)') from e
        self.path = os.fspath(onnx_path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f'{self.path}: no such ONNX file')
        if providers is None:
            on_gpu = next(detector.parameters()).is_cuda
            available = ort.get_available_providers()
            providers = (['CUDAExecutionProvider'] if on_gpu and
                         'CUDAExecutionProvider' in available else []) + ['CPUExecutionProvider']
        try:
            self.session = ort.InferenceSession(self.path, providers=list(providers))
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own bare types
            raise ValueError(f'{self.path}: not a loadable ONNX model ({e})') from None
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        if set(inputs) != {'clip', 'rois'}:
            raise ValueError(f'{self.path}: expected inputs clip and rois (a file from '
                             f'tools/export_onnx.py), found {sorted(inputs)}')
        self.clip_shape = tuple(inputs['clip'])
        self.detector = detector
        self.cfg = detector.cfg
        self.action_classes = detector.action_classes  # score columns <-> action ids

    def _logits(self, inputs: torch.Tensor, data_samples) -> torch.Tensor:
        """What ``AVADetector._logits`` computes, through the ONNX graph (one clip a run)."""
        rois = self.detector.rois_of(data_samples)
        out = []
        for b in range(inputs.shape[0]):
            clip = inputs[b:b + 1].detach().cpu().float().numpy()
            if tuple(clip.shape) != self.clip_shape:
                t, h, w = clip.shape[2:]
                raise ValueError(
                    f'{self.path} takes clips {"x".join(map(str, self.clip_shape))}; this '
                    f'video gives 1x3x{t}x{h}x{w}: export for it with --shape {t} {h} {w}')
            mine = rois[rois[:, 0] == b].clone()
            mine[:, 0] = 0
            logits, _ = self.session.run(None, {'clip': clip,
                                                'rois': mine.numpy().astype(np.float32)})
            out.append(torch.from_numpy(logits))
        return torch.cat(out) if out else torch.zeros(0, 80)

    # AVADetector.predict groups clips so a batch cannot change a clip's scores; the graph
    # already runs one clip at a time
    _grouped_logits = _logits

    @torch.no_grad()
    def test_step(self, data: dict):
        """The detector's ``test_step`` with the graph in place of backbone + head."""
        data = self.detector.data_preprocessor(data, False)
        # AVADetector.predict only calls self._grouped_logits; run it with ours
        return type(self.detector).predict(self, data['inputs'], data['data_samples'])
