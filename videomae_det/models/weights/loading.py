"""Loading any known checkpoint into a backbone, a detector or a pretraining model.

Every function reads with :func:`~videomae_det.models.weights.io.read_checkpoint` (no
pickled code runs), names the file's source, converts it with that source's converter and
loads it with a :class:`~videomae_det.models.weights.report.KeyReport`. Models are plain
``nn.Module`` arguments: this package imports nothing from the rest of ``models``.
"""
from typing import Dict, Tuple, Union

from mmengine.logging import print_log
from torch import Tensor, nn

from .converters import (BACKBONE_CONVERTERS, DETECTOR_CONVERTERS, convert_pretrain_model,
                         detect_source)
from .io import PathLike, RawCheckpoint, read_checkpoint
from .report import KeyReport, WeightsMismatchError, load_checked

StateDict = Dict[str, Tensor]


def source_of(raw: RawCheckpoint, default: str = None) -> str:
    """The source name of a read checkpoint; an unknown layout is ``default`` if given,
    else raises naming the file."""
    source = detect_source(raw.state_dict, raw.container) or default
    if source is None:
        sample = ', '.join(sorted(raw.state_dict)[:5])
        raise ValueError(
            f'{raw.path}: not a VideoMAE checkpoint this loader knows (official pretrain/'
            f'fine-tuned, HuggingFace, mmaction2, VideoMAE-Action-Detection, ours); '
            f'first keys: {sample}')
    return source


def convert_checkpoint(path: PathLike, trust_pickle: bool = False
                       ) -> Tuple[StateDict, Dict[str, str], str]:
    """Read ``path`` and convert it to our *backbone* keys -> (state dict, dropped, source)."""
    raw = read_checkpoint(path, trust_pickle)
    source = source_of(raw)
    state_dict, dropped = BACKBONE_CONVERTERS[source](raw.state_dict)
    return state_dict, dropped, source


def convert_detector_checkpoint(path: Union[PathLike, RawCheckpoint], trust_pickle: bool = False
                                ) -> Tuple[StateDict, Dict[str, str], str]:
    """Read ``path`` (or take an already read checkpoint) and convert it to our *detector*
    keys -> (state dict, dropped, source).

    Released detectors (VideoMAE-Action-Detection, mmaction2) and ours convert whole; a
    backbone-only file converts to ``backbone.*`` (the head then shows up as missing).
    """
    raw = path if isinstance(path, RawCheckpoint) else read_checkpoint(path, trust_pickle)
    # an unknown layout is taken at its word as the model's own key names: the key
    # report then says exactly what does not fit
    source = source_of(raw, default='ours')
    state_dict, dropped = DETECTOR_CONVERTERS[source](raw.state_dict)
    return state_dict, dropped, source


def load_pretrained(model: nn.Module, path: PathLike) -> KeyReport:
    """Initialise a backbone from a checkpoint of any known source and report.

    Partial by nature (a fine-tuned file has no per-token ``norm``): missing and
    unexpected keys are reported and logged, wrong shapes raise
    :class:`~videomae_det.models.weights.report.WeightsMismatchError`.

    Returns:
        a :class:`KeyReport` (unpacks as ``missing, unexpected``); keys the converter
        dropped on purpose (decoder, classifier, ``fc_norm``) are in ``report.dropped``.
    """
    state_dict, dropped, source = convert_checkpoint(path)
    report = load_checked(model, state_dict, str(path), source, dropped, strict=False)
    print_log(f'loaded backbone weights from {report.describe()}', logger='current')
    return report


def load_detector(model: nn.Module, path: Union[PathLike, RawCheckpoint], strict: bool = True,
                  trust_pickle: bool = False) -> KeyReport:
    """Load a whole detector (ours, or a released VideoMAE-Action-Detection / mmaction2
    one as downloaded) into ``model``.

    ``strict`` (the default) refuses a file that leaves any model key missing, has keys
    the model lacks or tensors of another shape, with
    :class:`~videomae_det.models.weights.report.WeightsMismatchError` carrying the key
    report and its likely cause; nothing is loaded then. ``strict=False`` is the explicit
    opt-in to partial loading (wrong shapes are still refused).
    """
    state_dict, dropped, source = convert_detector_checkpoint(path, trust_pickle)
    where = str(path.path if isinstance(path, RawCheckpoint) else path)
    report = load_checked(model, state_dict, where, source, dropped, strict=strict)
    if not report.ok:
        print_log(f'partial load (asked for): {report.describe()}', logger='current',
                  level=30)
    return report


def load_pretraining_model(model: nn.Module, path: PathLike) -> KeyReport:
    """Load a whole pretraining model (encoder and decoder) and report.

    Accepts the official VideoMAE pretraining files, HuggingFace
    ``VideoMAEForPreTraining`` weights and our own checkpoints of that model. A file
    without a decoder (fine-tuned, detector) raises ``ValueError``; wrong shapes raise
    :class:`WeightsMismatchError`. Missing/unexpected keys are reported and logged.
    """
    raw = read_checkpoint(path)
    source = source_of(raw)
    state_dict, dropped = convert_pretrain_model(raw.state_dict, source)
    if 'decoder.head.weight' not in state_dict:
        raise ValueError(
            f'{path}: not a VideoMAE pretraining checkpoint (source {source!r}, no '
            f"'decoder.head.weight'); to initialise only the encoder use load_pretrained "
            f'on model.encoder')
    report = load_checked(model, state_dict, str(path), source, dropped, strict=False)
    print_log(f'loaded pretraining model from {report.describe()}', logger='current')
    return report


__all__ = ['source_of', 'convert_checkpoint', 'convert_detector_checkpoint',
           'load_pretrained', 'load_detector', 'load_pretraining_model',
           'WeightsMismatchError']
