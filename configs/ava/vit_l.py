# VideoMAE ViT-L/16 on AVA v2.2: configs/ava/vit_b.py with the ViT-L backbone. Expected val
# frame mAP (paper, 16x4): 34.3 from the K400 pretrained checkpoint, 37.0 from the K400
# fine-tuned one (then set base_lr = 5e-4).
# Activation checkpointing is on (recompute each block in backward): the memory of ViT-L
# activations at 16x224x224 would not fit 4 clips per GPU otherwise.
#
#   tools/dist_train.sh configs/ava/vit_l.py 8
from mmengine.config import read_base

with read_base():
    from .vit_b import *  # noqa: F401,F403

pretrained = 'checkpoints/videomae_vit_l_k400_pretrain.pth'
model.backbone.update(embed_dim=1024, depth=24, num_heads=16, use_checkpoint=True,
                      pretrained=pretrained)
