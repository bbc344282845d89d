# VideoMAE-Action-Detection's AVA v2.2 models, ViT-H/16: reported val frame mAP 36.5 (K400
# pretrained) and 39.5 (K400 pretrained + fine-tuned), by the authors, not reproduced here.
# Their MODEL_ZOO.md links training scripts for ViT-H, not detector checkpoints: this config
# loads such a file once you have trained one with their code. Same test-time behaviour as
# vad_vit_small.py (see there).
from mmengine.config import read_base

with read_base():
    from .vad_vit_small import *  # noqa: F401,F403

model.backbone.update(embed_dim=1280, depth=32, num_heads=16)
