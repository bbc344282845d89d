"""Masked-video (VideoMAE) pretraining: token masks and the MAE pretraining model."""
from .masking import build_mask, random_mask, tube_mask
from .videomae import MAEDecoder, VideoMAEPretrainer

__all__ = [
    'MAEDecoder', 'VideoMAEPretrainer', 'build_mask', 'random_mask', 'tube_mask'
]
