# VideoMAE ViT-B/16 pretraining by tube masking: the official recipe (arXiv:2203.12602,
# Kinetics-400, 800 epochs). 16 frames at stride 4, 224x224, mask ratio 0.9 (tube), decoder
# width 384 / depth 4 / 6 heads, AdamW (0.9, 0.95), lr 1.5e-4 x batch / 256 with 40 linear
# warm-up epochs then cosine to 1e-5 x batch / 256, weight decay 0.05 (none on 1-D params
# and the mask token), no gradient clipping. Batch 32 per GPU x 64 GPUs = 2048.
#
#   torchrun --nproc-per-node 8 --nnodes 8 ... tools/train.py configs/pretrain/videomae_vit_b.py \
#       --launcher pytorch --amp
#
# Fewer GPUs: mmengine's auto_scale_lr keeps lr / batch constant when enabled
# (--cfg-options auto_scale_lr.enable=True). The encoder of the resulting checkpoint
# (work_dirs/videomae_vit_b/epoch_800.pth) loads into the detector with
# model.backbone.pretrained=<that file>.
from mmengine.dataset import DefaultSampler
from mmengine.hooks import IterTimerHook, LoggerHook, ParamSchedulerHook
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from mmengine.runner import EpochBasedTrainLoop
from torch.optim import AdamW

from videomae_det.datasets import UnlabeledVideoDataset, VideoMultiScaleCrop
from videomae_det.datasets.transforms import PackActionInputs
from videomae_det.engine import SafeCheckpointHook
from videomae_det.models import VideoMAEPretrainer, VisionTransformer
from videomae_det.models.data_preprocessor import ActionDataPreprocessor

# ---- data: a folder of videos (Kinetics-400 train); or layout='clips' for an AVA clip store
data_root = 'data/kinetics400'
clip_len, frame_interval, input_size = 16, 4, 224
batch_per_gpu, num_gpus = 32, 64
total_batch = batch_per_gpu * num_gpus

train_pipeline = [
    # the official pretraining augmentation is the multi-scale crop alone (no flip)
    dict(type=VideoMultiScaleCrop, size=input_size, scales=(1, .875, .75, .66), max_distort=1),
    dict(type=PackActionInputs),
]
train_dataloader = dict(
    batch_size=batch_per_gpu,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type=DefaultSampler, shuffle=True),
    dataset=dict(
        type=UnlabeledVideoDataset,
        data_root=data_root,
        layout='videos',
        data_prefix=dict(video='videos_train'),
        clip_len=clip_len,
        frame_interval=frame_interval,
        pipeline=train_pipeline))

# ---- model
model = dict(
    type=VideoMAEPretrainer,
    encoder=dict(type=VisionTransformer, num_frames=clip_len, img_size=input_size,
                 embed_dim=768, depth=12, num_heads=12, drop_path_rate=0.0),
    decoder_embed_dim=384,
    decoder_depth=4,
    decoder_num_heads=6,
    mask_type='tube',
    mask_ratio=0.9,
    norm_target=True,
    data_preprocessor=dict(type=ActionDataPreprocessor, mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375]))

# ---- schedule
max_epochs, warmup_epochs = 800, 40
base_lr = 1.5e-4 * total_batch / 256
optim_wrapper = dict(
    type=OptimWrapper,  # tools/train.py --amp switches to mixed precision (the official run)
    optimizer=dict(type=AdamW, lr=base_lr, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(flat_decay_mult=0.0, custom_keys={'mask_token': dict(decay_mult=0.0)}))
param_scheduler = [
    # warm-up from 1e-6 x batch / 256 (the official warmup_lr) to base_lr, per iteration
    dict(type=LinearLR, start_factor=1e-6 / 1.5e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, T_max=max_epochs - warmup_epochs, eta_min_ratio=1e-5 / 1.5e-4,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=total_batch)

train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=max_epochs)
# pretraining has no validation
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=20),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(type=SafeCheckpointHook, interval=20, max_keep_ckpts=3))
env_cfg = dict(cudnn_benchmark=True, dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)  # masks come from the seeded global RNG
log_processor = dict(by_epoch=True, window_size=20)
log_level = 'INFO'
# registry lookups by name (e.g. dict(type='AVADetector')) resolve in our registries first
default_scope = 'videomae_det'
load_from = None
resume = False
