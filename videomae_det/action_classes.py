"""The action classes a detector predicts: which ids, in which score column, with which names.

The label map named in a config decides the class set end to end (dataset labels, head
width, loss, metric, result files, inference names, ONNX export, the drawn video). Ids are
whatever the label map says: any positive integers, not necessarily 1..N nor contiguous.
Score column ``i`` is the ``i``-th smallest id (``ActionClasses.ids[i]``), so AVA's 80
actions keep column ``i`` = id ``i + 1``.

Torch-free on purpose: the CSV evaluation tool imports it.
"""
import os
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

PathLike = Union[str, os.PathLike]

# AVA v2.2 action list (ava_action_list_v2.2.pbtxt): id -> name. Ids 1-14 are pose
# actions, 15-63 person-object interactions, 64-80 person-person interactions.
AVA_ACTION_NAMES: Dict[int, str] = {
    1: 'bend/bow (at the waist)', 2: 'crawl', 3: 'crouch/kneel', 4: 'dance', 5: 'fall down',
    6: 'get up', 7: 'jump/leap', 8: 'lie/sleep', 9: 'martial art', 10: 'run/jog', 11: 'sit',
    12: 'stand', 13: 'swim', 14: 'walk', 15: 'answer phone', 16: 'brush teeth',
    17: 'carry/hold (an object)', 18: 'catch (an object)', 19: 'chop',
    20: 'climb (e.g., a mountain)', 21: 'clink glass', 22: 'close (e.g., a door, a box)',
    23: 'cook', 24: 'cut', 25: 'dig', 26: 'dress/put on clothing', 27: 'drink',
    28: 'drive (e.g., a car, a truck)', 29: 'eat', 30: 'enter', 31: 'exit', 32: 'extract',
    33: 'fishing', 34: 'hit (an object)', 35: 'kick (an object)', 36: 'lift/pick up',
    37: 'listen (e.g., to music)', 38: 'open (e.g., a window, a car door)', 39: 'paint',
    40: 'play board game', 41: 'play musical instrument', 42: 'play with pets',
    43: 'point to (an object)', 44: 'press', 45: 'pull (an object)', 46: 'push (an object)',
    47: 'put down', 48: 'read', 49: 'ride (e.g., a bike, a car, a horse)', 50: 'row boat',
    51: 'sail boat', 52: 'shoot', 53: 'shovel', 54: 'smoke', 55: 'stir', 56: 'take a photo',
    57: 'text on/look at a cellphone', 58: 'throw', 59: 'touch (an object)',
    60: 'turn (e.g., a screwdriver)', 61: 'watch (e.g., TV)', 62: 'work on a computer',
    63: 'write', 64: 'fight/hit (a person)', 65: 'give/serve (an object) to (a person)',
    66: 'grab (a person)', 67: 'hand clap', 68: 'hand shake', 69: 'hand wave',
    70: 'hug (a person)', 71: 'kick (a person)', 72: 'kiss (a person)', 73: 'lift (a person)',
    74: 'listen to (a person)', 75: 'play with kids', 76: 'push (another person)',
    77: 'sing to (e.g., self, a person, a group)', 78: 'take (an object) from (a person)',
    79: 'talk to (e.g., self, a person, a group)', 80: 'watch (a person)',
}

# What a config's ``label_map`` may be: None (AVA's 80 actions), a label map file, an
# ``{id: name}`` mapping, or an ActionClasses.
LabelMapSpec = Union[None, PathLike, Mapping[int, str], 'ActionClasses']


class ActionClasses:
    """An ordered set of action classes: ``ids`` (ascending; column ``i`` = ``ids[i]``) and
    ``names`` (id -> name).

    Args:
        names: ``{id: name}``; ids positive integers, names non-empty.
        source: where the classes came from (a file path, 'AVA', ...), for messages.
    """

    def __init__(self, names: Mapping[int, str], source: str = '') -> None:
        if not names:
            raise ValueError(f'{source or "label map"}: no class')
        clean: Dict[int, str] = {}
        for k, v in names.items():
            try:
                i = int(k)
                integral = not isinstance(k, bool) and float(k) == i
            except (TypeError, ValueError):
                integral = False
            if not integral or i < 1:
                raise ValueError(f'{source or "label map"}: class id {k!r} is not a positive '
                                 f'integer')
            if not isinstance(v, str) or not v.strip():
                raise ValueError(f'{source or "label map"}: class {i} has no name ({v!r})')
            clean[i] = v
        self.ids: Tuple[int, ...] = tuple(sorted(clean))
        self.names: Dict[int, str] = {i: clean[i] for i in self.ids}
        self.source = source
        self._column = {i: c for c, i in enumerate(self.ids)}

    # ------------------------------------------------------------------ construction
    @classmethod
    def ava(cls) -> 'ActionClasses':
        """AVA's 80 actions (the head of the AVA recipe)."""
        return cls(AVA_ACTION_NAMES, source='AVA (80 actions)')

    @classmethod
    def from_file(cls, path: PathLike) -> 'ActionClasses':
        """The classes of a label map file (pbtxt, see ``read_label_map``)."""
        from videomae_det.formats import read_label_map
        return cls(read_label_map(path), source=os.fspath(path))

    @classmethod
    def resolve(cls, spec: LabelMapSpec) -> 'ActionClasses':
        """A config's ``label_map`` value -> ActionClasses (None: AVA's 80 actions)."""
        if spec is None:
            return cls.ava()
        if isinstance(spec, ActionClasses):
            return spec
        if isinstance(spec, (str, os.PathLike)):
            return cls.from_file(spec)
        if isinstance(spec, Mapping):
            return cls(spec, source='label_map given inline')
        raise TypeError(f'label_map must be None, a label map file or {{id: name}}; got '
                        f'{type(spec).__name__}')

    def to_meta(self) -> dict:
        """Plain types for dataset metainfo and checkpoints: ``action_ids``, ``classes``
        (names in column order), ``num_classes``."""
        return dict(action_ids=self.ids, classes=tuple(self.names[i] for i in self.ids),
                    num_classes=len(self.ids))

    @classmethod
    def from_meta(cls, meta: Optional[Mapping]) -> Optional['ActionClasses']:
        """The inverse of :meth:`to_meta` (e.g. a checkpoint's ``meta['dataset_meta']``);
        None when ``meta`` holds no class ids."""
        if not isinstance(meta, Mapping) or not meta.get('action_ids'):
            return None
        ids = [int(i) for i in meta['action_ids']]
        names = list(meta.get('classes') or [])
        if len(names) != len(ids):
            names = [AVA_ACTION_NAMES.get(i, f'action {i}') for i in ids]
        return cls(dict(zip(ids, names)), source='checkpoint meta')

    # ------------------------------------------------------------------ use
    def __len__(self) -> int:
        return len(self.ids)

    def __eq__(self, other) -> bool:
        return isinstance(other, ActionClasses) and self.names == other.names

    def __repr__(self) -> str:
        shown = ', '.join(f'{i}: {self.names[i]!r}' for i in self.ids[:4])
        more = f', ... ({len(self)} classes)' if len(self) > 4 else ''
        return f'ActionClasses({{{shown}{more}}})'

    def __contains__(self, class_id) -> bool:
        return int(class_id) in self._column

    def columns(self, ids: Iterable[int], where: str = '') -> np.ndarray:
        """Score columns of ``ids``; an id outside the class set is a ValueError naming
        ``where`` and the label map."""
        ids = [int(i) for i in ids]
        unknown = sorted({i for i in ids if i not in self._column})
        if unknown:
            raise ValueError(f'{where + ": " if where else ""}action id(s) {unknown} are not '
                             f'in the label map ({self.source or "given"}; ids '
                             f'{_short(self.ids)})')
        return np.array([self._column[i] for i in ids], np.int64)

    def multi_hot(self, id_lists: Sequence[Sequence[int]], where: str = '') -> np.ndarray:
        """Per box a list of action ids -> float32 (M, C) multi-hot in column order."""
        out = np.zeros((len(id_lists), len(self)), np.float32)
        for row, ids in enumerate(id_lists):
            out[row, self.columns(ids, where)] = 1
        return out

    def is_ava(self) -> bool:
        """Whether these are AVA actions (every id an AVA id with its AVA name), so that
        AVA's category summaries (pose / person-object / person-person) mean something."""
        return all(AVA_ACTION_NAMES.get(i) == n for i, n in self.names.items())


def _short(ids: Sequence[int]) -> str:
    ids = list(ids)
    return str(ids) if len(ids) <= 12 else f'[{", ".join(map(str, ids[:10]))}, ...]'

