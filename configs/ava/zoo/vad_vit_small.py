# VideoMAE-Action-Detection's released AVA v2.2 detectors, ViT-S/16 (16x4, 224 pretraining):
# reported val frame mAP 22.5 (from the K400 pretrained checkpoint) and 28.4 (K400
# pretrained + fine-tuned), by the authors (github.com/MCG-NJU/VideoMAE-Action-Detection,
# MODEL_ZOO.md); not reproduced here. Their files load as downloaded:
#
#   python tools/test.py configs/ava/zoo/vad_vit_small.py checkpoint.pth
#   python tools/infer.py video.mp4 --config configs/ava/zoo/vad_vit_small.py \
#       --checkpoint checkpoint.pth --out annotated.mp4
#
# Test-time behaviour of their code (modeling_finetune.py, alphaction/, data/), reproduced:
# - frames: short side 256, long side floored (int), bilinear (cv2); RGB normalised with
#   mean (122.7717, 115.9465, 102.9801), std 57.375; batches padded to multiples of 16;
# - boxes: maskrcnn-benchmark's BoxList, x2 = x + w - 1 (box_convention='inclusive'),
#   widened in the model by (0.1, 0.05) of (x2 - x1 + 1) and clipped to W - 1;
# - head: final norm -> mean over time -> roi_align 7x7 at 1/16, sampling ratio 0, no
#   half-pixel offset (aligned=False) -> 7x7 max pool -> Linear(D, 80);
# - person boxes with score >= 0.8; action scores sigmoid x person score, none dropped.
# - clips: 16 frames 4 apart from the 1-second 25 fps files (our 'clips' layout), one frame
#   (40 ms) after the keyframe-centred grid, as their TemporalCrop (sample_offset=0.04).
# Known difference: they evaluate in fp16 (autocast); ours runs in the precision you choose.
from mmengine.config import read_base

with read_base():
    from ..vit_b import *  # noqa: F401,F403

from videomae_det.datasets import PackActionInputs, Resize

model.backbone.update(embed_dim=384, depth=12, num_heads=6, drop_path_rate=0.,
                      pretrained=None)
model.update(box_convention='inclusive', test_widen=(0.1, 0.05))
model.roi_head.update(roi_size=7, sampling_ratio=0, aligned=False)
model.data_preprocessor.update(mean=[122.7717, 115.9465, 102.9801],
                               std=[57.375, 57.375, 57.375])
test_pipeline = [
    dict(type=Resize, scale=256, rounding='floor'),
    dict(type=PackActionInputs),  # no WidenBoxes: the model widens (test_widen)
]
# their TemporalCrop takes frames 1, 5, ..., 61 of the 64 around the keyframe: 1/25 s
# later than our keyframe-centred grid
val_dataloader.dataset.update(pipeline=test_pipeline, det_score_thr=0.8, sample_offset=0.04)
test_dataloader = val_dataloader
