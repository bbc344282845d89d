# Static baseline of configs/mini_ava/vit_tiny.py: the same model and schedule, but every
# clip is its keyframe repeated T times (train and val), so the model sees appearance and
# pose only, no motion. The gap to vit_tiny.py on the movement classes (walk, run/jog,
# jump/leap, fall down, hand wave) is what the space-time input buys.
#
#   python tools/train.py configs/mini_ava/vit_tiny_static.py
from mmengine.config import read_base

with read_base():
    from .vit_tiny import *  # noqa: F401,F403

from videomae_det.datasets import RepeatKeyframe

train_dataloader.dataset.pipeline = [dict(type=RepeatKeyframe), *train_pipeline]
val_dataloader.dataset.pipeline = [dict(type=RepeatKeyframe), *test_pipeline]
test_dataloader = val_dataloader
