# VideoMAE pretraining in miniature: a small ViT learns from mini-AVA's own *train* movies
# (labels unused) on a CPU in a few minutes. The recipe of videomae_vit_b.py (tube mask
# 0.9, per-cube normalised target, AdamW (0.9, 0.95), wd 0.05, warm-up + cosine), scaled
# down: the encoder sizes and input size are those of the mini detector's backbone
# (configs/mini_ava/), so the checkpoint's encoder loads into it with no missing key:
#
#   python tools/data/make_mini_ava.py data/mini_ava
#   python tools/train.py configs/pretrain/mini_ava.py
#   python tools/train.py configs/mini_ava/vit_tiny.py \
#       --cfg-options model.backbone.pretrained=work_dirs/mini_ava/epoch_5.pth
#
# Results of that comparison (and of a 30-epoch pretraining): docs/pretraining.md.
from mmengine.config import read_base

with read_base():
    from .videomae_vit_b import *  # noqa: F401,F403

from mmengine.optim import CosineAnnealingLR, LinearLR

from videomae_det.datasets import Flip

# ---- sizes shared with the mini detector's backbone
clip_len, frame_interval, input_size, patch_size = 8, 4, 112, 8
embed_dim, depth, num_heads = 192, 4, 3

# ---- data: the 1-second clips of the train movies only (the val movies stay unseen)
data_root = 'data/mini_ava'
batch_per_gpu, num_gpus = 8, 1
total_batch = batch_per_gpu * num_gpus
train_pipeline = [
    dict(type=VideoMultiScaleCrop, size=input_size, scales=(1, .875, .75, .66), max_distort=1),
    dict(type=Flip, flip_ratio=0.5),
    dict(type=PackActionInputs),
]
train_dataloader.update(batch_size=batch_per_gpu, num_workers=2, pin_memory=False)
train_dataloader.dataset = dict(
    type=UnlabeledVideoDataset,
    data_root=data_root,
    layout='clips',
    data_prefix=dict(video='clips/trainval'),
    movie_list='annotations/ava_train_v2.2.csv',
    clip_len=clip_len,
    frame_interval=frame_interval,
    clip_fps=25,
    pipeline=train_pipeline)

# ---- model: decoder half the encoder width, as in the ViT-B recipe (768 -> 384)
model.encoder.update(num_frames=clip_len, img_size=input_size, patch_size=patch_size,
                     embed_dim=embed_dim, depth=depth, num_heads=num_heads)
model.update(decoder_embed_dim=embed_dim // 2, decoder_depth=2, decoder_num_heads=num_heads)

# ---- schedule: a few CPU minutes (225 iterations)
max_epochs, warmup_epochs = 5, 1
# a short run of a tiny model needs a large step: the recipe's 1.5e-4 x batch / 256 would
# barely move it in 225 iterations
base_lr = 1e-3
optim_wrapper.optimizer.update(lr=base_lr)
param_scheduler = [
    dict(type=LinearLR, start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, T_max=max_epochs - warmup_epochs, eta_min_ratio=0.01,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=total_batch)
train_cfg.update(max_epochs=max_epochs)

default_hooks.logger.update(interval=10)
default_hooks.checkpoint.update(interval=max_epochs, max_keep_ckpts=1)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
log_processor.update(window_size=10)
