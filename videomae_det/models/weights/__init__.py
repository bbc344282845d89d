"""All weights code: safe readers, one converter per checkpoint source, the key report,
and loaders for backbones, detectors and pretraining models.

This package imports nothing from the rest of :mod:`videomae_det.models`: models are
passed in as plain ``nn.Module`` objects, so any model file may import from here.
"""
from .config_text import ConfigTextError, parse_config_text
from .converters import (BACKBONE_CONVERTERS, DETECTOR_CONVERTERS, DETECTOR_SOURCES,
                         MMACTION2_NAMES, convert_huggingface, convert_huggingface_pretrain,
                         detect_source, released_detector_config, strip_ddp_prefix)
from .io import (SAFE_GLOBALS, RawCheckpoint, UnsafeCheckpointError, read_checkpoint,
                 safe_torch_load, trusted_torch_load)
from .loading import (convert_checkpoint, convert_detector_checkpoint, load_detector,
                      load_pretrained, load_pretraining_model, source_of)
from .report import KeyReport, WeightsMismatchError, compare, load_checked

__all__ = [
    'ConfigTextError', 'parse_config_text', 'BACKBONE_CONVERTERS', 'DETECTOR_CONVERTERS',
    'DETECTOR_SOURCES', 'MMACTION2_NAMES', 'convert_huggingface',
    'convert_huggingface_pretrain', 'detect_source', 'released_detector_config',
    'strip_ddp_prefix', 'SAFE_GLOBALS',
    'RawCheckpoint', 'UnsafeCheckpointError', 'read_checkpoint', 'safe_torch_load',
    'trusted_torch_load', 'convert_checkpoint', 'convert_detector_checkpoint',
    'load_detector', 'load_pretrained', 'load_pretraining_model', 'source_of', 'KeyReport',
    'WeightsMismatchError', 'compare', 'load_checked'
]
