# mmaction2's released VideoMAE AVA detector, ViT-L/16 (16x4x1, K400 pretrained, trained on
# AVA-Kinetics): reported AVA v2.2 val mAP 38.7 by mmaction2 (configs/detection/videomae);
# not reproduced here. Same test-time behaviour as mmaction2_vit_base.py (see there).
#
#   python tools/test.py configs/ava/zoo/mmaction2_vit_large.py \
#       vit-large-p16_videomae-k400-pre_8xb8-16x4x1-20e-adamw_ava-kinetics-rgb_20230314-bf93c9ea.pth
from mmengine.config import read_base

with read_base():
    from .mmaction2_vit_base import *  # noqa: F401,F403

model.backbone.update(embed_dim=1024, depth=24, num_heads=16)
