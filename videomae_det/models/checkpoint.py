"""Loading backbone weights from the checkpoints users bring, safely and loudly.

Five sources are recognised, each with its own converter in
:mod:`videomae_det.models.backbones.vit`:

========================  ==========================================================
``official_pretrain``     VideoMAE pretraining file: ``{'model': {'encoder.*', 'decoder.*',
                          ...}, 'args': Namespace}``
``official_finetune``     VideoMAE fine-tuned file: ``{'module' or 'model': {'patch_embed.*',
                          'blocks.*', 'fc_norm.*', 'head.*'}, 'args': Namespace}``
``huggingface``           a ``save_pretrained`` directory of ``transformers`` VideoMAE
                          (``model.safetensors``, sharded safetensors or
                          ``pytorch_model.bin``), or one such weights file
``mmaction2``             an mmaction2 VideoMAE checkpoint (``backbone.patch_embed.projection``,
                          ``mlp.layers.*``, ``cls_head.*``)
``ours``                  our checkpoints: a bare state dict, ``{'state_dict': ...}`` from
                          mmengine, with ``backbone.`` (detector) or ``encoder.`` (our MAE
                          pretraining model) prefixes
========================  ==========================================================

Nothing executes while reading: pickles are read with ``torch.load(weights_only=True)``
allowing only ``argparse.Namespace`` (official files keep their arguments in one); a
file that needs anything else is refused with an error naming the file and the global.
"""
import argparse
import json
import os
import pickle
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Tuple, Union

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from videomae_det.models.backbones.vit import (convert_huggingface, convert_mmaction2,
                                               convert_official_finetune,
                                               convert_official_pretrain, convert_ours)

PathLike = Union[str, os.PathLike]
StateDict = Dict[str, Tensor]

# the only non-tensor class our loader lets a pickle build (data only, no code runs)
SAFE_GLOBALS = [argparse.Namespace]

CONVERTERS: Dict[str, Callable[[StateDict], Tuple[StateDict, Dict[str, str]]]] = {
    'official_pretrain': convert_official_pretrain,
    'official_finetune': convert_official_finetune,
    'huggingface': convert_huggingface,
    'mmaction2': convert_mmaction2,
    'ours': convert_ours,
}

_HF_WEIGHT_FILES = ('model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin',
                    'pytorch_model.bin.index.json')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint would need to build objects beyond tensors and plain containers."""


class LoadReport(tuple):
    """``(missing, unexpected)`` key lists, plus ``dropped`` ({key: reason}) and ``source``.

    Unpacks as the 2-tuple of the public contract: ``missing, unexpected = report``.
    """

    def __new__(cls, missing: List[str], unexpected: List[str], dropped: Dict[str, str],
                source: str):
        report = super().__new__(cls, (missing, unexpected))
        report.dropped = dropped
        report.source = source
        return report

    @property
    def missing(self) -> List[str]:
        return self[0]

    @property
    def unexpected(self) -> List[str]:
        return self[1]


# ---------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------


def safe_torch_load(path: PathLike):
    """``torch.load`` that runs no pickled code; refuses anything beyond ``SAFE_GLOBALS``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the pickle asks for other globals (names the file and them).
        ValueError: the file is not a readable torch checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(
            f'{path}: refused to load: it needs {_unsafe_globals(path, e)}, which could run '
            f'code while unpickling; only tensors, plain containers and argparse.Namespace '
            f'are allowed. If the file comes from your own trusted training run (mmengine '
            f'also saves its MessageHub with numpy objects), extract the weights once with '
            f'`python tools/convert_checkpoint.py {path} OUT --trust-pickle`.') from None
    except (RuntimeError, EOFError, OSError) as e:
        raise ValueError(f'{path}: not a readable torch checkpoint ({e})') from None


def _unsafe_globals(path: Path, error: Exception) -> str:
    # scans the pickle opcodes only, nothing is executed
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy (non-zip) format: fall back to torch's message
        return str(error).strip().splitlines()[-1]
    names = [n for n in names if n != 'argparse.Namespace']
    return ', '.join(names) if names else 'objects other than tensors'


def trusted_torch_load(path: PathLike):
    """Full ``torch.load`` (runs the file's pickle): ONLY for checkpoints your own runs
    wrote, e.g. mmengine Runner checkpoints whose MessageHub the safe loader refuses."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint not found: {path}')
    return torch.load(path, map_location='cpu', weights_only=False)


def _read_safetensors(path: Path) -> StateDict:
    from safetensors.torch import load_file
    try:
        return load_file(str(path), device='cpu')
    except Exception as e:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f'{path}: not a readable safetensors file ({e})') from None


def _read_huggingface_dir(path: Path) -> StateDict:
    """Weights of a ``save_pretrained`` directory (single file or sharded)."""
    for name in _HF_WEIGHT_FILES:
        file = path / name
        if not file.is_file():
            continue
        if name.endswith('.index.json'):
            shards = sorted(set(json.loads(file.read_text())['weight_map'].values()))
            state_dict = {}
            for shard in shards:
                state_dict.update(_read_weights_file(path / shard))
            return state_dict
        return _read_weights_file(file)
    raise FileNotFoundError(
        f'{path}: a directory but not a HuggingFace save_pretrained one '
        f'(none of {", ".join(_HF_WEIGHT_FILES)})')


def _read_weights_file(path: Path, trust_pickle: bool = False):
    if path.suffix == '.safetensors':
        return _read_safetensors(path)
    return trusted_torch_load(path) if trust_pickle else safe_torch_load(path)


def read_checkpoint(path: PathLike, trust_pickle: bool = False) -> Tuple[StateDict, str]:
    """Read ``path`` and tell its source: -> (raw state dict, source name in CONVERTERS).

    ``trust_pickle=True`` unpickles a torch file fully (see :func:`trusted_torch_load`).
    """
    path = Path(path)
    if path.is_dir():
        return _flat_tensors(_read_huggingface_dir(path), path), 'huggingface'
    ckpt = _read_weights_file(path, trust_pickle)
    if not isinstance(ckpt, Mapping):
        raise ValueError(f'{path}: expected a dict checkpoint, got {type(ckpt).__name__}')
    for container in ('module', 'model', 'state_dict'):
        if isinstance(ckpt.get(container), Mapping):
            state_dict = _flat_tensors(ckpt[container], path, container)
            break
    else:
        container, state_dict = None, _flat_tensors(ckpt, path)
    return state_dict, _detect_source(state_dict, container, path)


def _flat_tensors(state_dict: Mapping, path: Path, container: str = None) -> StateDict:
    where = f"['{container}']" if container else ''
    for key, value in state_dict.items():
        if not isinstance(value, Tensor):
            raise ValueError(
                f'{path}: {where}[{key!r}] is a {type(value).__name__}, not a tensor; '
                f'not a state dict')
    return dict(state_dict)


def _detect_source(state_dict: StateDict, container: str, path: Path) -> str:
    keys = state_dict.keys()

    def has(*prefixes):
        return any(k.startswith(prefixes) for k in keys)

    if any('embeddings.patch_embeddings.projection' in k for k in keys):
        return 'huggingface'
    if any('patch_embed.projection.' in k for k in keys):
        return 'mmaction2'
    if container in ('model', 'module'):
        # the official code saves {'model' | 'module': ..., 'args': Namespace, ...}
        if has('encoder.patch_embed.', 'module.encoder.patch_embed.'):
            return 'official_pretrain'
        if has('patch_embed.', 'module.patch_embed.'):
            return 'official_finetune'
    if has('patch_embed.', 'backbone.patch_embed.', 'encoder.patch_embed.',
           'module.patch_embed.', 'module.backbone.patch_embed.'):
        return 'ours'
    sample = ', '.join(sorted(keys)[:5])
    raise ValueError(
        f'{path}: not a VideoMAE checkpoint this loader knows (official pretrain/fine-tuned, '
        f'HuggingFace, mmaction2, ours); first keys: {sample}')


# ---------------------------------------------------------------------------------------
# Loading into a model
# ---------------------------------------------------------------------------------------


def convert_checkpoint(path: PathLike,
                       trust_pickle: bool = False) -> Tuple[StateDict, Dict[str, str], str]:
    """Read ``path`` and convert it to our key layout -> (state dict, dropped, source)."""
    raw, source = read_checkpoint(path, trust_pickle)
    state_dict, dropped = CONVERTERS[source](raw)
    return state_dict, dropped, source


def load_state_dict_checked(model: nn.Module, state_dict: StateDict, path: PathLike,
                            assign: bool = False) -> Tuple[List[str], List[str]]:
    """Load matching keys; a shape mismatch raises one error naming file, key and shapes.

    Returns (missing, unexpected) key lists; loading is partial only in that reported way.
    ``assign`` (see ``nn.Module.load_state_dict``) suits a model built on the meta device
    only to check a checkpoint.
    """
    own = model.state_dict()
    for key, value in state_dict.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(
                f'{path}: {key!r} has shape {tuple(value.shape)} in the checkpoint but '
                f'{tuple(own[key].shape)} in the model (a checkpoint of another size, '
                f'e.g. ViT-L into ViT-B, or a different patch/tubelet size?)')
    result = model.load_state_dict(state_dict, strict=False, assign=assign)
    return list(result.missing_keys), list(result.unexpected_keys)


def load_pretrained(model: nn.Module, path: PathLike) -> LoadReport:
    """Load a backbone checkpoint from any known source into ``model`` and report.

    Returns:
        a :class:`LoadReport`, which unpacks as ``(missing, unexpected)``: keys of the model
        the file did not fill, and converted keys the model has no place for. Keys the
        converter dropped on purpose (decoder, classifier, ``fc_norm``) are in
        ``report.dropped`` with the reason. Everything is also logged.
    """
    state_dict, dropped, source = convert_checkpoint(path)
    missing, unexpected = load_state_dict_checked(model, state_dict, path)
    report = LoadReport(missing, unexpected, dropped, source)
    print_log(_describe(report, path), logger='current')
    return report


def _describe(report: LoadReport, path: PathLike) -> str:
    lines = [f'loaded {path} (source: {report.source})']
    if report.missing:
        lines.append(f'  missing (left at their init): {", ".join(report.missing)}')
    if report.unexpected:
        lines.append(f'  unexpected (ignored): {", ".join(report.unexpected)}')
    reasons: Dict[str, List[str]] = {}
    for key, reason in report.dropped.items():
        reasons.setdefault(reason, []).append(key)
    for reason, keys in reasons.items():
        shown = ', '.join(keys[:4]) + (f', ... ({len(keys)} keys)' if len(keys) > 4 else '')
        lines.append(f'  dropped, {reason}: {shown}')
    return '\n'.join(lines)
