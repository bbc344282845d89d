"""tools/export_onnx.py: the exported graph matches PyTorch for different box counts."""
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))
import export_onnx  # noqa: E402

from test_infer import model_files  # noqa: E402,F401  (the same tiny detector fixture)

from videomae_det.apis import init_detector  # noqa: E402


def _rois(k, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    xy1 = torch.rand(k, 2, generator=g) * torch.tensor([w * 0.6, h * 0.6])
    wh = torch.rand(k, 2, generator=g) * torch.tensor([w * 0.4, h * 0.4]) + 4
    return torch.cat([torch.zeros(k, 1), xy1, xy1 + wh], dim=1)


@pytest.mark.slow
def test_onnxruntime_matches_pytorch_for_two_box_counts(tmp_path, model_files):  # noqa: F811
    cfg, ckpt = model_files
    out = tmp_path / 'det.onnx'
    assert export_onnx.main([str(cfg), str(ckpt), str(out), '--shape', '8', '64', '96']) == 0
    graph = onnx.load(str(out))
    assert graph.opset_import[0].version >= 17
    assert 'RoiAlign' in {n.op_type for n in graph.graph.node}
    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    model = init_detector(cfg, ckpt)
    clip = torch.randn(1, 3, 8, 64, 96, generator=torch.Generator().manual_seed(0))
    for k, seed in ((1, 0), (5, 1), (0, 2)):
        rois = _rois(k, 64, 96, seed)
        logits, scores = session.run(None, {'clip': clip.numpy(), 'rois': rois.numpy()})
        with torch.no_grad():
            expected = model.roi_head(model.extract_feat(clip), rois)
        assert logits.shape == (k, 80)
        np.testing.assert_allclose(logits, expected.numpy(), atol=1e-3)
        np.testing.assert_allclose(scores, expected.sigmoid().numpy(), atol=1e-3)
