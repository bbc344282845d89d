"""Checkpointing hook: atomic writes, and checkpoints that load with ``weights_only=True``.

mmengine's ``CheckpointHook`` writes checkpoints in place (a crash mid-write leaves a
truncated file where the last good one was) and stores its message hub as pickled
``HistoryBuffer`` objects holding numpy arrays. torch >= 2.6 loads with
``weights_only=True`` by default and rejects those classes (plus ``builtins.getattr``,
which numpy's dtype pickling needs), so an mmengine run could not resume from its own
checkpoint without turning the safety off.

:class:`SafeCheckpointHook` fixes both without touching the safety:

* every file goes through :class:`AtomicLocalBackend` (temp file + fsync + rename), so a
  reader sees the previous complete checkpoint or the new complete one, never half of one;
* before a save, the message hub and meta are reduced to tensors and plain Python values
  (``HistoryBuffer`` -> a tagged dict of tensors, numpy scalars -> Python numbers, numpy
  arrays -> lists); after a load, the tagged dicts become ``HistoryBuffer`` again. The
  checkpoints therefore load with plain ``torch.load(path, weights_only=True)``: for
  resume, for ``load_from``, for ``tools/test.py``, anywhere;
* the random-number states (Python, numpy, torch CPU/CUDA) go into each checkpoint and are
  restored on resume, and validation is made RNG-neutral (the states are put back after
  each validation epoch), so a run resumed from epoch k continues exactly as the
  uninterrupted run would have: same augmentations, same dropout, same final weights
  (single process, ``num_workers=0`` or non-persistent workers, deterministic kernels).
  Under DDP only rank 0 saves, so every rank restores rank 0's states: training continues
  correctly but not bit-identically;
* ``last_checkpoint`` names the latest checkpoint relative to the work dir, and a resume
  reads it relative to the work dir (``work_dir.find_latest_checkpoint``), so a copied work
  dir resumes from its own files;
* after a resume, exactly one ``best_*`` checkpoint per metric remains, the one the resumed
  run's history supports (a run killed between writing a new best and re-saving its epoch
  checkpoint would otherwise keep the old best's record, and end with two), and its score
  is the one the next epochs must beat.
"""
import os.path as osp
import re
from pathlib import Path
from typing import Any, Union

import random

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.dist import is_main_process
from mmengine.logging import HistoryBuffer
from mmengine.runner import runner as mmengine_runner

from videomae_det.engine.work_dir import LAST_CHECKPOINT, find_latest_checkpoint
from videomae_det.models.weights import safe_torch_load
from videomae_det.registry import HOOKS
from videomae_det.utils.atomic import atomic_open, atomic_write_text

ATOMIC_BACKEND = 'atomic_local'
_HISTORY_TAG = '__history_buffer__'


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, but ``put``/``put_text`` replace files atomically."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        with atomic_open(filepath, 'wb') as f:
            f.write(obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        with atomic_open(filepath, 'w', encoding=encoding) as f:
            f.write(obj)


register_backend(ATOMIC_BACKEND, AtomicLocalBackend)
# the Runner's auto-resume (resume=True, load_from=None) takes last_checkpoint's text as a
# path relative to the current directory; ours resolves it in the work dir
mmengine_runner.find_latest_checkpoint = find_latest_checkpoint


def to_plain(obj: Any) -> Any:
    """Recursively replace ``HistoryBuffer`` and numpy values by tensors/plain Python.

    Dicts, lists and tuples are rebuilt (the input is not modified); tensors and plain
    values pass through.
    """
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_HISTORY_TAG: dict(log=torch.from_numpy(np.array(log, dtype=np.float64)),
                                   count=torch.from_numpy(np.array(count, dtype=np.int64)),
                                   max_length=int(obj.max_length))}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, dict):
        return type(obj)((k, to_plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain` for the message hub: tagged dicts -> ``HistoryBuffer``."""
    if isinstance(obj, dict):
        if set(obj) == {_HISTORY_TAG}:
            state = obj[_HISTORY_TAG]
            return HistoryBuffer(state['log'].numpy(), state['count'].numpy(),
                                 state['max_length'])
        return type(obj)((k, from_plain(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return [from_plain(v) for v in obj]
    return obj


def rng_state() -> dict:
    """The states of every random generator training draws from, as tensors/plain values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = dict(python=random.getstate(), torch=torch.get_rng_state(),
                 numpy=dict(kind=kind, keys=torch.from_numpy(keys.astype(np.int64)), pos=pos,
                            has_gauss=has_gauss, gauss=gauss))
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`rng_state` (CUDA states only if this process sees the same GPUs)."""
    random.setstate(state['python'])
    torch.set_rng_state(state['torch'])
    np_state = state['numpy']
    np.random.set_state((np_state['kind'], np_state['keys'].numpy().astype(np.uint32),
                         np_state['pos'], np_state['has_gauss'], np_state['gauss']))
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) with atomic writes and weights-only-loadable files.

    Keeps everything of the parent: ``interval``, ``max_keep_ckpts``, ``save_best``/
    ``rule`` (the best checkpoint by a metric), ``save_last``. The config text is in every
    checkpoint's ``meta['cfg']`` (the Runner puts it there), so a checkpoint plus this
    package rebuilds its model.
    """

    def __init__(self, *args, backend_args: Union[dict, None] = None, **kwargs) -> None:
        if kwargs.get('file_client_args') is None and backend_args is None:
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, backend_args=backend_args, **kwargs)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in ('meta', 'message_hub'):
            if key in checkpoint:
                checkpoint[key] = to_plain(checkpoint[key])
        checkpoint['rng_state'] = rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = from_plain(checkpoint['message_hub'])
        # only a resume continues the training stream; loading weights (load_from, test)
        # must not replay another run's randomness
        if 'rng_state' in checkpoint and getattr(runner, '_resume', False):
            set_rng_state(checkpoint['rng_state'])

    def before_val_epoch(self, runner) -> None:
        self._rng_before_val = rng_state()

    def after_val_epoch(self, runner, metrics) -> None:
        # put the training stream back first: validation (its dataloader draws a seed) must
        # not shift the randomness of the following training epochs, nor of the checkpoint
        # the parent may re-save below
        if getattr(self, '_rng_before_val', None) is not None:
            set_rng_state(self._rng_before_val)
            self._rng_before_val = None
        super().after_val_epoch(runner, metrics)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        super()._save_checkpoint_with_step(runner, step, meta)
        if is_main_process() and self.last_ckpt is not None:
            # the parent wrote the absolute path (in place); a relative one keeps a copied
            # work dir pointing at its own files
            atomic_write_text(osp.join(runner.work_dir, LAST_CHECKPOINT),
                              osp.relpath(self.last_ckpt, runner.work_dir))

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self.save_best is not None and getattr(runner, '_resume', False):
            step = runner.epoch if self.by_epoch else runner.iter
            for key in self.key_indicators:
                self._reconcile_best(runner, key, step)

    def _reconcile_best(self, runner, key: str, step: int) -> None:
        """Keep the one best checkpoint of ``key`` that the resumed history supports.

        Bests only ever improve, so among the ``best_<key>_epoch_N.pth`` files with N up to
        the resumed step the latest is the best; its own stored score is the one to beat
        (the resumed checkpoint may predate it). Other bests (older ones a kill left, or
        later ones of the run being replaced) are removed.
        """
        single = len(self.key_indicators) == 1
        score_key = 'best_score' if single else f'best_score_{key}'
        path_key = 'best_ckpt' if single else f'best_ckpt_{key}'
        prefix = f'best_{key}_'.replace('/', '_')
        pattern = re.compile(re.escape(prefix) + re.escape(self.filename_tmpl)
                             .replace(r'\{\}', r'(\d+)') + '$')
        found = []
        for path in Path(self.out_dir).glob(f'{prefix}*'):
            match = pattern.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        kept = max(((n, p) for n, p in found if n <= step), default=None,
                   key=lambda item: item[0])
        for n, path in found:
            if kept is None or path != kept[1]:
                if is_main_process():
                    path.unlink(missing_ok=True)
                runner.logger.info(f'Removed {path.name}: not the best checkpoint of the '
                                   f'run resumed at step {step}.')
        if kept is None:  # no best file to back the recorded score: start afresh
            best = None
            runner.message_hub.pop_info(score_key)
        else:
            best = str(kept[1])
            try:
                stored = safe_torch_load(best)
                runner.message_hub.update_info(
                    score_key, stored['message_hub']['runtime_info'][score_key])
            except Exception as e:  # noqa: BLE001 - keep the resumed checkpoint's score
                runner.logger.warning(f'Could not read the score stored in {best} ({e}); '
                                      f'keeping the resumed checkpoint\'s best score.')
            runner.message_hub.update_info(path_key, best)
        if single:
            self.best_ckpt_path = best
        else:
            self.best_ckpt_path_dict[key] = best
