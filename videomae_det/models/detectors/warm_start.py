"""Warm start across class sets: fine-tune a detector trained on other classes (e.g. AVA).

Everything but the classifier is copied from the trained detector, which must have the same
architecture. The classifier (``roi_head.fc_cls``, one row per class) is copied row by row
for the classes both class sets share, matched by action id (default) or by name; the rows
of new classes keep their fresh initialisation. The log says which class got which row.

Which class each row of the trained head is comes from the checkpoint's
``meta['dataset_meta']['action_ids']`` (training writes it); an 80-row head without it is
taken to be AVA's 80 actions (our AVA checkpoints from before class sets, converted VAD ones).
"""
import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from videomae_det.action_classes import ActionClasses

HEAD_KEYS = ('roi_head.fc_cls.weight', 'roi_head.fc_cls.bias')
MATCHES = ('id', 'name')


def _norm_name(name: str) -> str:
    """Names compare case- and spacing-insensitively ('Hand wave' == 'hand  wave')."""
    return re.sub(r'\s+', ' ', name.strip().casefold())


def source_classes(checkpoint: Mapping, rows: int, path: str) -> ActionClasses:
    """The classes of the ``rows`` head rows of a loaded checkpoint (see module doc)."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    classes = ActionClasses.from_meta((meta or {}).get('dataset_meta'))
    if classes is not None:
        if len(classes) != rows:
            raise ValueError(f'{path}: its meta names {len(classes)} classes but its head has '
                             f'{rows} rows')
        return classes
    if rows == 80:
        return ActionClasses.ava()
    raise ValueError(f'{path}: its head has {rows} rows but the checkpoint does not say which '
                     f'classes they are (no meta.dataset_meta.action_ids), so no row can be '
                     f'matched to a class')


def match_rows(target: ActionClasses, source: ActionClasses,
               match: str = 'id') -> List[Tuple[int, Optional[int]]]:
    """Per target class (column order): ``(target column, source row or None)``."""
    if match not in MATCHES:
        raise ValueError(f'warm_start match must be one of {MATCHES}, got {match!r}')
    if match == 'id':
        lookup = {i: row for row, i in enumerate(source.ids)}
        return [(col, lookup.get(i)) for col, i in enumerate(target.ids)]
    by_name: Dict[str, int] = {}
    for row, i in enumerate(source.ids):
        by_name.setdefault(_norm_name(source.names[i]), row)
    return [(col, by_name.get(_norm_name(target.names[i]))) for col, i in enumerate(target.ids)]


def warm_start(model: nn.Module, path: str, match: str = 'id') -> dict:
    """Load the detector checkpoint ``path`` into ``model`` (an ``AVADetector``) across class
    sets (module doc). Any detector checkpoint the weights loader knows works: ours, and the
    released VideoMAE-Action-Detection / mmaction2 AVA detectors (mmaction2's background row
    is skipped). Returns ``{'copied': [(target id, source id)], 'fresh': [ids],
    'message': str}``.

    Raises ValueError naming the file when the checkpoint is not a detector of the same
    architecture, or its head rows cannot be told apart. ``message`` in the result is
    what was logged.
    """
    from videomae_det.models.weights import (convert_detector_checkpoint, load_checked,
                                             read_checkpoint)
    raw = read_checkpoint(path)
    state, _, source_name = convert_detector_checkpoint(raw)
    if not all(k in state for k in HEAD_KEYS):
        raise ValueError(f'{path}: not a detector checkpoint (no {HEAD_KEYS[0]}); a VideoMAE '
                         f'backbone checkpoint goes to model.backbone.pretrained instead')
    own = model.state_dict()
    missing = [k for k in own if k not in HEAD_KEYS and k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in own
                  if k not in HEAD_KEYS and k in state and state[k].shape != own[k].shape]
    head_w, head_b = state[HEAD_KEYS[0]], state[HEAD_KEYS[1]]
    if head_w.shape[1:] != own[HEAD_KEYS[0]].shape[1:]:
        mismatched.append(f'{HEAD_KEYS[0]} width {head_w.shape[1]} vs '
                          f'{own[HEAD_KEYS[0]].shape[1]}')
    if missing or unexpected or mismatched:
        raise ValueError(
            f'{path} does not fit the model (warm start needs the same architecture, only the '
            f'classes may differ): {len(missing)} missing keys {missing[:4]}, '
            f'{len(unexpected)} unexpected {unexpected[:4]}, {len(mismatched)} of another '
            f'shape {mismatched[:4]}')
    # mmaction2 heads keep a background row 0 before the classes
    src_skip = 1 if source_name == 'mmaction2' else 0
    dst_skip = int(getattr(model.roi_head, 'background_class', False))
    target: ActionClasses = model.action_classes
    source = source_classes({'meta': raw.meta}, head_w.shape[0] - src_skip, str(path))
    pairs = match_rows(target, source, match)

    body = {k: v for k, v in state.items() if k not in HEAD_KEYS}
    load_checked(model, body, str(path), source_name, strict=False)  # all but the head
    fc = model.roi_head.fc_cls
    copied, fresh = [], []
    with torch.no_grad():
        for col, row in pairs:
            tid = target.ids[col]
            if row is None:
                fresh.append(tid)
                continue
            fc.weight[col + dst_skip].copy_(head_w[row + src_skip].to(fc.weight))
            fc.bias[col + dst_skip].copy_(head_b[row + src_skip].to(fc.bias))
            copied.append((tid, source.ids[row]))
    lines = [f'warm start from {path} (classes: {source.source}, matched by {match}): '
             f'{len(copied)} of {len(target)} head rows copied, {len(fresh)} initialised fresh']
    lines += [f'  copied  {t:>4} {target.names[t]!r} <- {s} {source.names[s]!r}'
              for t, s in copied]
    lines += [f'  fresh   {t:>4} {target.names[t]!r}' for t in fresh]
    message = '\n'.join(lines)
    print_log(message, logger='current')
    return dict(copied=copied, fresh=fresh, message=message)
