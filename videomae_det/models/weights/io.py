"""Reading weight files safely: torch pickles, safetensors, HuggingFace directories.

Nothing executes while reading: pickles are read with ``torch.load(weights_only=True)``
allowing only ``argparse.Namespace`` (the official VideoMAE files keep their command-line
arguments in one); a file that needs anything else is refused with an error naming the file
and the globals it asks for. :func:`trusted_torch_load` is the explicit opt-out for files a
user's own runs wrote.
"""
import argparse
import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import torch
from torch import Tensor

PathLike = Union[str, os.PathLike]
StateDict = Dict[str, Tensor]

# the only non-tensor class a pickle may build (data only, no code runs)
SAFE_GLOBALS = [argparse.Namespace]

HF_WEIGHT_FILES = ('model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin',
                   'pytorch_model.bin.index.json')

# where the known layouts keep the state dict inside the saved dict, in lookup order
CONTAINERS = ('module', 'model', 'state_dict')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint would need to build objects beyond tensors and plain containers."""


@dataclass
class RawCheckpoint:
    """A weight file as read: its flat tensors and where they were found.

    Attributes:
        path: the file or directory read.
        state_dict: ``{name: tensor}`` exactly as stored (no renaming).
        container: the key of the saved dict holding them (``'model'``, ``'module'``,
            ``'state_dict'``), ``None`` for a bare state dict, ``'huggingface'`` for a
            ``save_pretrained`` directory.
        meta: the saved dict's ``meta`` entry (our training checkpoints keep the config
            text in ``meta['cfg']``), else ``{}``.
    """
    path: Path
    state_dict: StateDict
    container: Optional[str] = None
    meta: Dict[str, Any] = field(default_factory=dict)


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


def _read_weights_file(path: Path, trust_pickle: bool = False):
    if path.suffix == '.safetensors':
        return _read_safetensors(path)
    return trusted_torch_load(path) if trust_pickle else safe_torch_load(path)


def _read_huggingface_dir(path: Path) -> StateDict:
    """Weights of a ``save_pretrained`` directory (single file or sharded)."""
    for name in HF_WEIGHT_FILES:
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
        f'(none of {", ".join(HF_WEIGHT_FILES)})')


def _flat_tensors(state_dict: Mapping, path: Path, container: Optional[str] = None
                  ) -> StateDict:
    where = f"['{container}']" if container else ''
    for key, value in state_dict.items():
        if not isinstance(value, Tensor):
            raise ValueError(
                f'{path}: {where}[{key!r}] is a {type(value).__name__}, not a tensor; '
                f'not a state dict')
    return dict(state_dict)


def read_checkpoint(path: PathLike, trust_pickle: bool = False) -> RawCheckpoint:
    """Read a weight file or HuggingFace directory -> :class:`RawCheckpoint`.

    ``trust_pickle=True`` unpickles a torch file fully (see :func:`trusted_torch_load`).
    """
    path = Path(path)
    if path.is_dir():
        return RawCheckpoint(path, _flat_tensors(_read_huggingface_dir(path), path),
                             'huggingface')
    ckpt = _read_weights_file(path, trust_pickle)
    if not isinstance(ckpt, Mapping):
        raise ValueError(f'{path}: expected a dict checkpoint, got {type(ckpt).__name__}')
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), Mapping) else {}
    for container in CONTAINERS:
        if isinstance(ckpt.get(container), Mapping):
            return RawCheckpoint(path, _flat_tensors(ckpt[container], path, container),
                                 container, dict(meta))
    return RawCheckpoint(path, _flat_tensors(ckpt, path), None, dict(meta))
