# VideoMAE pretraining in miniature on mini-Kinetics: the Kinetics -> AVA path of the paper
# at toy scale. The encoder and recipe are those of configs/pretrain/mini_ava.py (the mini
# detector's backbone, tube mask 0.9); the data is a folder of unlabelled synthetic movies
# (tools/data/make_mini_kinetics.py: other sets, people and cameras than mini-AVA's, none
# of its val movies), read as any folder of videos is: one random 8x4 window per video per
# epoch.
#
#   python tools/data/make_mini_kinetics.py data/mini_kinetics --movies 400
#   python tools/train.py configs/pretrain/mini_kinetics.py
#   python tools/train.py configs/mini_ava/vit_tiny.py \
#       --cfg-options model.backbone.pretrained=work_dirs/mini_kinetics/epoch_100.pth
#
# benchmarks/pretrain_pays.py compares that detector with random init and with pretraining
# on mini-AVA's own train movies (results: docs/pretraining.md).
from mmengine.config import read_base

with read_base():
    from .mini_ava import *  # noqa: F401,F403

from mmengine.optim import CosineAnnealingLR, LinearLR

# ---- data: every video under data/mini_kinetics/videos
data_root = 'data/mini_kinetics'
train_dataloader.dataset = dict(
    type=UnlabeledVideoDataset,
    data_root=data_root,
    layout='videos',
    data_prefix=dict(video='videos'),
    clip_len=clip_len,
    frame_interval=frame_interval,
    pipeline=train_pipeline)

# ---- target: raw pixels. The recipe's per-cube normalised target divides each cube by its
# own std; on these frames (flat colour plus film grain) most cubes are grain, so that target
# is mostly noise: at 400 iterations its loss was still ~0.99 (the mean predictor's 1.0)
# while the raw MSE fell below the mean-colour baseline, and the detector fine-tuned from it
# was 0.8 mAP worse (docs/pretraining.md).
model.update(norm_target=False)

# ---- init: the encoder starts from the detector backbone's own random init (trunc-normal
# 0.02), not the official pretraining's xavier-uniform (std 0.051 on these qkv layers). The
# mini detector's fine-tuning recipe is tuned for the former: with xavier a pretrained start
# differed from a from-scratch one by its init scale as well as by its training, which
# alone cost 1-2 mAP points (docs/pretraining.md)
model.update(encoder_init='backbone')

# ---- schedule: 400 videos / batch 8 = 50 iterations per epoch; 100 epochs = 5000
# iterations, about an hour on 2 quiet CPU cores (the longest run of docs/pretraining.md)
max_epochs, warmup_epochs = 100, 1
param_scheduler = [
    dict(type=LinearLR, start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, T_max=max_epochs - warmup_epochs, eta_min_ratio=0.01,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg.update(max_epochs=max_epochs)
default_hooks.checkpoint.update(interval=max_epochs, max_keep_ckpts=1)
