# VideoMAE-Action-Detection's AVA v2.2 models, ViT-L/16: reported val frame mAP 34.3 (K400
# pretrained) and 37.0 (K400 pretrained + fine-tuned), by the authors, not reproduced here.
# Their MODEL_ZOO.md links training scripts for ViT-L, not detector checkpoints: this config
# loads such a file once you have trained one with their code. Same test-time behaviour as
# vad_vit_small.py (see there).
from mmengine.config import read_base

with read_base():
    from .vad_vit_small import *  # noqa: F401,F403

model.backbone.update(embed_dim=1024, depth=24, num_heads=16)
