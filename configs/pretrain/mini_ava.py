# VideoMAE pretraining in miniature: a small ViT learns from mini-AVA's own *train* movies
# (labels unused) on a CPU in a few minutes. Same recipe as videomae_vit_b.py (tube mask
# 0.9, per-cube normalised target, AdamW (0.9, 0.95), wd 0.05, warm-up + cosine), scaled
# down: the encoder sizes and input size are those of the mini detector's backbone
# (configs/mini_ava/), so the checkpoint's encoder loads into it with no missing key:
#
#   python tools/data/make_mini_ava.py data/mini_ava
#   python tools/train.py configs/pretrain/mini_ava.py
#   python tools/train.py configs/mini_ava/vit_tiny.py \
#       --cfg-options model.backbone.pretrained=work_dirs/mini_ava/epoch_5.pth
#
# Results of that comparison (and of a 30-epoch pretraining): README, "Pretraining".
from mmengine.dataset import DefaultSampler
from mmengine.hooks import IterTimerHook, LoggerHook, ParamSchedulerHook
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from mmengine.runner import EpochBasedTrainLoop
from torch.optim import AdamW

from videomae_det.datasets import (Flip, PackActionInputs, UnlabeledVideoDataset,
                                   VideoMultiScaleCrop)
from videomae_det.engine import SafeCheckpointHook
from videomae_det.models import VideoMAEPretrainer, VisionTransformer
from videomae_det.models.data_preprocessor import ActionDataPreprocessor

# ---- sizes shared with the mini detector's backbone
clip_len, frame_interval, input_size = 8, 4, 112
embed_dim, depth, num_heads = 192, 4, 3

# ---- data: the 1-second clips of the train movies only (the val movies stay unseen)
data_root = 'data/mini_ava'
train_pipeline = [
    dict(type=VideoMultiScaleCrop, size=input_size, scales=(1, .875, .75, .66), max_distort=1),
    dict(type=Flip, flip_ratio=0.5),
    dict(type=PackActionInputs),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type=DefaultSampler, shuffle=True),
    dataset=dict(
        type=UnlabeledVideoDataset,
        data_root=data_root,
        layout='clips',
        data_prefix=dict(video='clips/trainval'),
        movie_list='annotations/ava_train_v2.2.csv',
        clip_len=clip_len,
        frame_interval=frame_interval,
        clip_fps=25,
        pipeline=train_pipeline))

# ---- model: decoder half the encoder width, as in the ViT-B recipe (768 -> 384)
model = dict(
    type=VideoMAEPretrainer,
    encoder=dict(type=VisionTransformer, num_frames=clip_len, img_size=input_size,
                 embed_dim=embed_dim, depth=depth, num_heads=num_heads),
    decoder_embed_dim=embed_dim // 2,
    decoder_depth=2,
    decoder_num_heads=num_heads,
    mask_type='tube',
    mask_ratio=0.9,
    norm_target=True,
    data_preprocessor=dict(type=ActionDataPreprocessor, mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375]))

# ---- schedule: a few CPU minutes (225 iterations)
max_epochs, warmup_epochs = 5, 1
# a short run of a tiny model needs a large step: the recipe's 1.5e-4 x batch / 256 would
# barely move it in 225 iterations
base_lr = 1e-3
optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=AdamW, lr=base_lr, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(flat_decay_mult=0.0, custom_keys={'mask_token': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type=LinearLR, start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, T_max=max_epochs - warmup_epochs, eta_min_ratio=0.01,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]

train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=max_epochs)
# pretraining has no validation
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=10),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(type=SafeCheckpointHook, interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, diff_rank_seed=True)  # masks come from the seeded global RNG
log_processor = dict(by_epoch=True, window_size=10)
log_level = 'INFO'
# registry lookups by name (e.g. dict(type='AVADetector')) resolve in our registries first
default_scope = 'videomae_det'
load_from = None
resume = False
