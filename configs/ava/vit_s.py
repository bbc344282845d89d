# VideoMAE ViT-S/16 on AVA v2.2: configs/ava/vit_b.py with the ViT-S backbone. Expected val
# frame mAP (paper, 16x4): 22.5 from the K400 pretrained checkpoint, 28.4 from the K400
# fine-tuned one (then set base_lr = 5e-4).
#
#   tools/dist_train.sh configs/ava/vit_s.py 8
from mmengine.config import read_base

with read_base():
    from .vit_b import *  # noqa: F401,F403

pretrained = 'checkpoints/videomae_vit_s_k400_pretrain.pth'
model.backbone.update(embed_dim=384, depth=12, num_heads=6, use_checkpoint=False,
                      pretrained=pretrained)
