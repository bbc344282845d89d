# The AVA recipe in miniature: a small ViT (D 192, 4 blocks, 3 heads) on mini-AVA, 8 frames
# 4 apart at 112 pixels, trained from random init on a CPU in minutes. Everything else
# (detector, head, losses, pipelines, metric, checkpoints) is that of configs/ava/vit_b.py.
#
# One change of scale: 8-pixel patches (feature stride 8) instead of 16. An AVA person at
# 224 pixels is about 6 patches of 16 tall; a mini-AVA person at 112 pixels is 25-60 pixels,
# i.e. 2-4 patches of 16 and one wide, too coarse to see a limb move: with 16-pixel patches
# the model stayed near chance on the movement classes, whether fed clips or a still
# keyframe (docs/training.md, "Results on mini-AVA"). 8-pixel patches give the person the token count
# it has in real AVA.
#
#   python tools/data/make_mini_ava.py data/mini_ava
#   python tools/train.py configs/mini_ava/vit_tiny.py
#   python tools/test.py configs/mini_ava/vit_tiny.py work_dirs/vit_tiny/best_ava_mAP_epoch_*.pth
#
# The static baseline (same model, each clip = its keyframe repeated) is
# configs/mini_ava/vit_tiny_static.py. A backbone pretrained with configs/pretrain/mini_ava.py
# plugs in with --cfg-options model.backbone.pretrained=work_dirs/mini_ava/epoch_N.pth.
from mmengine.config import read_base

with read_base():
    from ..ava.vit_b import *  # noqa: F401,F403

from mmengine.optim import CosineAnnealingLR, LinearLR

from videomae_det.datasets import (BoxJitter, ColorJitter, Flip, PackActionInputs, RandomCrop,
                                   Resize, WidenBoxes)

data_root = 'data/mini_ava'
clip_len, frame_interval, input_size = 8, 4, 112
patch_size = 8
batch_size = 8
max_epochs, warmup_epochs = 8, 1
base_lr = 1e-3  # for this batch: from random init, a tiny model wants a large step

model.backbone.update(num_frames=clip_len, img_size=input_size, patch_size=patch_size,
                      embed_dim=192, depth=4, num_heads=3, drop_path_rate=0.1, pretrained=None)
model.roi_head.update(dropout=0.2)  # its RoI stride follows the patch size

# mini-AVA clips are 160x120: short side 112, train on random 112x112 crops
train_pipeline = [
    dict(type=Resize, scale=input_size),
    dict(type=RandomCrop, size=input_size),
    dict(type=Flip, flip_ratio=0.5),
    dict(type=ColorJitter, brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type=BoxJitter),
    dict(type=PackActionInputs),
]
test_pipeline = [
    dict(type=Resize, scale=input_size),
    dict(type=WidenBoxes, width_ratio=0.1, height_ratio=0.05),
    dict(type=PackActionInputs),
]
clip = dict(data_root=data_root, clip_len=clip_len, frame_interval=frame_interval)
train_dataloader.update(batch_size=batch_size, num_workers=2, persistent_workers=False)
train_dataloader.dataset.update(**clip, pipeline=train_pipeline)
val_dataloader.update(batch_size=batch_size, num_workers=2, persistent_workers=False)
val_dataloader.dataset.update(**clip, pipeline=test_pipeline)
test_dataloader = val_dataloader

ann_root = f'{data_root}/annotations'
val_evaluator.update(ann_file=f'{ann_root}/ava_val_v2.2.csv',
                     label_map_file=f'{ann_root}/mini_ava_action_list.pbtxt',
                     exclude_file=f'{ann_root}/ava_val_excluded_timestamps_v2.2.csv')
test_evaluator = val_evaluator

optim_wrapper.optimizer.update(lr=base_lr)
auto_scale_lr = dict(enable=False, base_batch_size=batch_size)
param_scheduler = [
    dict(type=LinearLR, start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, T_max=max_epochs - warmup_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg.update(max_epochs=max_epochs, val_interval=1)
default_hooks.logger.update(interval=10)
default_hooks.checkpoint.update(max_keep_ckpts=1)
