# VideoMAE ViT-B/16 action detection on AVA v2.2: the recipe of the paper (arXiv:2203.12602)
# and its reference code. Expected val frame mAP: 26.7 from the K400 *pretrained*
# checkpoint, 31.8 from the K400 *fine-tuned* one (then set base_lr = 5e-4).
#
#   python tools/train.py configs/ava/vit_b.py                    # 1 process
#   tools/dist_train.sh configs/ava/vit_b.py 8                    # 8 GPUs, torchrun
#
# The VideoMAE checkpoint the backbone starts from is `pretrained` below: it goes to
# model.backbone.pretrained and is loaded by load_pretrained() (weights only, official /
# HuggingFace / our layouts, missing and unexpected keys reported). Override it with
#   --cfg-options model.backbone.pretrained=/path/to/videomae_vit_b.pth
# `load_from` stays for our own detector checkpoints (e.g. to fine-tune a trained detector).
from mmengine.dataset import DefaultSampler
from mmengine.hooks import (DistSamplerSeedHook, IterTimerHook, LoggerHook, ParamSchedulerHook,
                            RuntimeInfoHook)
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from torch.optim import AdamW

from videomae_det.datasets import (AVAVideoDataset, BoxJitter, ColorJitter, Flip,
                                   PackActionInputs, RandomCrop, Resize, WidenBoxes)
from videomae_det.engine import LayerDecayOptimWrapperConstructor, SafeCheckpointHook
from videomae_det.evaluation.metrics import AVAMetric
from videomae_det.models import AVADetector, AVARoIHead, VisionTransformer
from videomae_det.models.data_preprocessor import ActionDataPreprocessor

# ---- what you are most likely to change
data_root = 'data/ava'
pretrained = 'checkpoints/videomae_vit_b_k400_pretrain.pth'
clip_len, frame_interval = 16, 4  # 16 frames, 4 apart at 25 fps: a 2.56 s window
batch_per_gpu = 4  # x 32 GPUs = the recipe's batch of 128
base_lr = 2.5e-4  # per 256 clips; auto_scale_lr scales it to the real total batch
max_epochs, warmup_epochs = 30, 5
# The classes the head predicts: None = AVA's 80 actions (the recipe trains all 80 and the
# evaluation scores the official 60, `eval_label_map` below). For your own classes give a
# label map file (pbtxt) or {id: name}; the head width, labels, metric, result files and
# names all follow it (docs/custom_dataset.md).
label_map = None

# ---- model
model = dict(
    type=AVADetector,
    backbone=dict(type=VisionTransformer, num_frames=clip_len, img_size=224, embed_dim=768,
                  depth=12, num_heads=12, drop_path_rate=0.2, use_checkpoint=False,
                  pretrained=pretrained),
    # derived by the detector, so not stated here: the head's width (from label_map), its
    # RoI stride and the preprocessor's pad divisor (from the backbone's patch size)
    roi_head=dict(type=AVARoIHead, roi_size=7, aligned=True, dropout=0.5),
    data_preprocessor=dict(type=ActionDataPreprocessor, mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375]),
    label_map=label_map)

# ---- data: 1-second 25 fps clips, *_min.json annotations, person detections for val
ann_dir = 'annotations'
# the classes scored: AVA's official 60 of the 80 the head predicts
eval_label_map = f'{data_root}/{ann_dir}/ava_action_list_v2.2_for_activitynet_2019.pbtxt'
train_pipeline = [
    dict(type=Resize, scale=256),
    dict(type=RandomCrop, size=224),
    dict(type=Flip, flip_ratio=0.5),
    dict(type=ColorJitter, brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type=BoxJitter),  # GT boxes jittered for pooling (rois); labels stay on proposals
    dict(type=PackActionInputs),
]
test_pipeline = [
    dict(type=Resize, scale=256),
    dict(type=WidenBoxes, width_ratio=0.1, height_ratio=0.05),
    dict(type=PackActionInputs),
]
# where the video data is: 1-second clips (see videomae_det/datasets/layouts.py for frame
# folders, e.g. PySlowFast's dict(type='frames', dir='frames', fps=30, start_sec=900,
# template='{movie}/{movie}_{index:06d}.jpg'), or whole videos)
layout = dict(type='clips', dir='clips/trainval', fps=25)
dataset_common = dict(type=AVAVideoDataset, data_root=data_root, layout=layout,
                      clip_len=clip_len, frame_interval=frame_interval, label_map=label_map)
train_dataloader = dict(
    batch_size=batch_per_gpu,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type=DefaultSampler, shuffle=True),
    dataset=dict(**dataset_common, ann_file=f'{ann_dir}/ava_train_v2.2_min.json',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=batch_per_gpu,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=dict(**dataset_common, ann_file=f'{ann_dir}/ava_val_v2.2_min.json',
                 proposal_file='boxes/ava_val_det_person_bbox.json', det_score_thr=0.8,
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type=AVAMetric, ann_file=f'{data_root}/{ann_dir}/ava_val_v2.2.csv',
                     label_map_file=eval_label_map,
                     exclude_file=f'{data_root}/{ann_dir}/ava_val_excluded_timestamps_v2.2.csv',
                     mode='official')
test_evaluator = val_evaluator

# ---- optimisation: AdamW, layer-wise lr decay 0.75, no decay on biases/norms/pos embed
optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=AdamW, lr=base_lr, betas=(0.9, 0.999), weight_decay=0.05),
    constructor=LayerDecayOptimWrapperConstructor,
    paramwise_cfg=dict(layer_decay_rate=0.75))
auto_scale_lr = dict(enable=True, base_batch_size=256)
param_scheduler = [
    dict(type=LinearLR, start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, T_max=max_epochs - warmup_epochs, eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)

# ---- runtime
default_hooks = dict(
    runtime_info=dict(type=RuntimeInfoHook),
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=20),
    param_scheduler=dict(type=ParamSchedulerHook),
    # atomic, weights_only-loadable checkpoints; the best one by val mAP is kept
    checkpoint=dict(type=SafeCheckpointHook, interval=1, max_keep_ckpts=3,
                    save_best='ava/mAP', rule='greater'),
    sampler_seed=dict(type=DistSamplerSeedHook))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
# torchrun on CPU-only machines too (DDP without device_ids there); plain DDP on GPUs.
# By name: mmengine looks model wrappers up by string (registered by videomae_det.engine).
model_wrapper_cfg = dict(type='DeviceAgnosticDDP', broadcast_buffers=False,
                         find_unused_parameters=False)
log_processor = dict(window_size=20, by_epoch=True)
log_level = 'INFO'
# registry lookups by name (e.g. dict(type='AVADetector')) resolve in our registries first
default_scope = 'videomae_det'
randomness = dict(seed=0, deterministic=False)
load_from = None  # our own detector checkpoint to start from (not a VideoMAE one)
resume = False
