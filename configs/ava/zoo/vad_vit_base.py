# VideoMAE-Action-Detection's released AVA v2.2 detectors, ViT-B/16: reported val frame mAP
# 26.7 (K400 pretrained) and 31.8 (K400 pretrained + fine-tuned), by the authors, not
# reproduced here. Same test-time behaviour as vad_vit_small.py (see there).
#
#   python tools/test.py configs/ava/zoo/vad_vit_base.py checkpoint.pth
from mmengine.config import read_base

with read_base():
    from .vad_vit_small import *  # noqa: F401,F403

model.backbone.update(embed_dim=768, depth=12, num_heads=12)
