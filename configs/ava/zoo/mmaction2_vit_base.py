# mmaction2's released VideoMAE AVA detector, ViT-B/16 (16x4x1, K400 pretrained, trained on
# AVA-Kinetics): reported AVA v2.2 val mAP 33.6 by mmaction2 (configs/detection/videomae,
# https://github.com/open-mmlab/mmaction2/tree/main/configs/detection/videomae); not
# reproduced here. The file loads as downloaded (no mmaction2 needed):
#
#   python tools/test.py configs/ava/zoo/mmaction2_vit_base.py \
#       vit-base-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb_20230314-3dafab75.pth
#   python tools/infer.py video.mp4 --config configs/ava/zoo/mmaction2_vit_base.py \
#       --checkpoint <the same file> --out annotated.mp4
#
# Test-time behaviour of mmaction2 (FastRCNN + SingleRoIExtractor3D + BBoxHeadAVA),
# reproduced:
# - frames: 30 fps frame folders, 16 frames 4 apart; short side 256 (long side rounded);
#   RGB mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375); one clip per batch,
#   cropped down to whole 16-pixel patches (its strided patch conv drops the remainder);
# - boxes: proposals as given (x2 = x + w), no widening;
# - head: mean over time -> RoIAlign 8x8 at 1/16 with the half-pixel offset
#   (aligned=True), sampling ratio 0 -> spatial max -> dropout -> fc_cls Linear(D, 81),
#   column 0 background (dropped: background_class=True);
# - AVA evaluation without the top-50 cap ('legacy').
# - person boxes: its FAIR proposals .pkl, score >= 0.9, a keyframe's best box kept when
#   none reaches 0.9 (det_keep_best); its centre frame is 1/30 s after 900 + t (the frames
#   layout below reproduces that).
# Known difference: mmaction2 drops action scores <= 0.002 from its results; we keep them.
from mmengine.config import read_base

with read_base():
    from ..vit_b import *  # noqa: F401,F403

from videomae_det.datasets import PackActionInputs, Resize

model.backbone.update(embed_dim=768, depth=12, num_heads=12, drop_path_rate=0.,
                      pretrained=None)
model.roi_head.update(roi_size=8, sampling_ratio=0, aligned=True, dropout=0.5,
                      background_class=True)
model.data_preprocessor.update(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                               crop_to_divisor=True)
test_pipeline = [
    dict(type=Resize, scale=256),
    dict(type=PackActionInputs),
]
val_dataloader.update(batch_size=1)
# mmaction2's rawframes (img_00001.jpg = movie second 900 at 30 fps): its clip centre sits
# one frame (1/30 s) after 900 + t, which starting the numbering 1/30 s early reproduces
layout = dict(type='frames', dir='rawframes', fps=30, start_sec=900 - 1 / 30,
              template='{movie}/img_{index:05d}.jpg', first_index=1)
# mmaction2's person boxes: its FAIR proposals (read as they are), score >= 0.9, and a
# keyframe without such a box keeps its best one
val_dataloader.dataset.update(
    pipeline=test_pipeline, layout=layout, sample_fps=30.0,
    proposal_file='annotations/ava_dense_proposals_val.FAIR.recall_93.9.pkl',
    det_score_thr=0.9, det_keep_best=True)
test_dataloader = val_dataloader
val_evaluator.update(mode='legacy')
test_evaluator = val_evaluator
