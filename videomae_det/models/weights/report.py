"""The key report: which model keys a checkpoint leaves missing, which it has no place
for, which have the wrong shape, and the likely cause, in words a user can act on."""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

from torch import Tensor, nn

StateDict = Dict[str, Tensor]

_SHOWN = 6  # keys listed per kind before "... (N keys)"


@dataclass
class KeyReport:
    """What loading a checkpoint into a model did (or would do).

    Attributes:
        path: the checkpoint.
        source: its layout (a name of :mod:`videomae_det.models.weights.converters`).
        missing: model keys the checkpoint does not fill.
        unexpected: converted checkpoint keys the model has no place for.
        mismatched: ``{key: (checkpoint shape, model shape)}``.
        dropped: ``{source key: reason}`` the converter left out on purpose.
    """
    path: str
    source: str
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: Dict[str, Tuple[tuple, tuple]] = field(default_factory=dict)
    dropped: Dict[str, str] = field(default_factory=dict)

    # ``missing, unexpected = report`` keeps working for callers of the old 2-tuple
    def __iter__(self):
        return iter((self.missing, self.unexpected))

    def __eq__(self, other):
        if isinstance(other, tuple):
            return (self.missing, self.unexpected) == other
        if not isinstance(other, KeyReport):
            return NotImplemented
        return vars(self) == vars(other)

    @property
    def ok(self) -> bool:
        """Every model key filled with the right shape and nothing left over."""
        return not (self.missing or self.unexpected or self.mismatched)

    def likely_cause(self) -> Optional[str]:
        """A sentence naming the most likely reason for a mismatch, or None if loaded."""
        return likely_cause(self)

    def describe(self) -> str:
        """Multi-line text: the file, its source, each key kind and the likely cause."""
        lines = [f'{self.path} (source: {self.source})']
        if self.mismatched:
            lines.append(f'  wrong shape ({len(self.mismatched)}): ' + _listing(
                [f'{k!r} has shape {tuple(c)} in the checkpoint but {tuple(m)} in the model'
                 for k, (c, m) in self.mismatched.items()], 3))
        if self.missing:
            lines.append(f'  missing ({len(self.missing)}): {_listing(self.missing)}')
        if self.unexpected:
            lines.append(f'  unexpected ({len(self.unexpected)}): {_listing(self.unexpected)}')
        reasons: Dict[str, List[str]] = {}
        for key, reason in self.dropped.items():
            reasons.setdefault(reason, []).append(key)
        for reason, keys in reasons.items():
            lines.append(f'  dropped, {reason}: {_listing(keys, 4)}')
        cause = self.likely_cause()
        if cause:
            lines.append(f'  likely cause: {cause}')
        return '\n'.join(lines)


def _listing(items: List[str], shown: int = _SHOWN) -> str:
    text = ', '.join(items[:shown])
    return text + (f', ... ({len(items)} in all)' if len(items) > shown else '')


class WeightsMismatchError(ValueError):
    """A checkpoint does not fit the model exactly; ``.report`` holds the key report."""

    def __init__(self, report: KeyReport, strict: bool = True):
        self.report = report
        what = ('checkpoint does not fit the model (strict loading)' if strict else
                'checkpoint has tensors of other shapes than the model')
        super().__init__(f'{what}: {report.describe()}')


def compare(model_state: Mapping[str, Tensor], state_dict: Mapping[str, Tensor],
            path: str = '', source: str = 'ours',
            dropped: Optional[Dict[str, str]] = None) -> KeyReport:
    """Key report of loading ``state_dict`` into a model whose state is ``model_state``.

    Only names and shapes are compared (``model_state`` may live on the meta device).
    """
    mismatched = {k: (tuple(v.shape), tuple(model_state[k].shape))
                  for k, v in state_dict.items()
                  if k in model_state and tuple(model_state[k].shape) != tuple(v.shape)}
    return KeyReport(
        path=str(path), source=source,
        missing=[k for k in model_state if k not in state_dict],
        unexpected=[k for k in state_dict if k not in model_state],
        mismatched=mismatched, dropped=dict(dropped or {}))


def load_checked(model: nn.Module, state_dict: StateDict, path: str = '',
                 source: str = 'ours', dropped: Optional[Dict[str, str]] = None,
                 strict: bool = True, assign: bool = False) -> KeyReport:
    """Load ``state_dict`` into ``model`` and return the key report.

    ``strict=True`` refuses any missing, unexpected or wrong-shape key
    (:class:`WeightsMismatchError`, nothing loaded). ``strict=False`` loads the matching
    keys and still refuses wrong shapes (a tensor of another size can never be loaded),
    leaving the rest reported. ``assign`` (see ``nn.Module.load_state_dict``) suits a
    model built on the meta device only to check a checkpoint.
    """
    report = compare(model.state_dict(), state_dict, path, source, dropped)
    if report.mismatched or (strict and not report.ok):
        raise WeightsMismatchError(report, strict)
    model.load_state_dict(state_dict, strict=False, assign=assign)
    return report


# ---------------------------------------------------------------------------------------
# Likely cause
# ---------------------------------------------------------------------------------------

_BLOCK = re.compile(r'^(?:backbone\.|encoder\.)?blocks\.(\d+)\.')


def _depth(keys) -> int:
    ids = {int(m.group(1)) for k in keys for m in [_BLOCK.match(k)] if m}
    return max(ids) + 1 if ids else 0


def likely_cause(report: KeyReport) -> Optional[str]:
    """The most likely reason for a report's mismatch, in order of how telling it is."""
    if report.ok:
        return None
    mismatched = report.mismatched
    for key, (ckpt, model) in mismatched.items():
        if key.endswith('patch_embed.proj.weight'):
            if ckpt[0] != model[0]:
                return (f'the checkpoint is a ViT of width {ckpt[0]}, the config builds width '
                        f'{model[0]} (e.g. a ViT-L file with a ViT-B config): use the config '
                        f'of the checkpoint\'s size')
            return (f'patch/tubelet size differs: {ckpt[2:]} in the checkpoint, {model[2:]} in '
                    f'the model (patch_size / tubelet_size of the config)')
    for key, (ckpt, model) in mismatched.items():
        if key.endswith('fc_cls.weight') or key.endswith('fc_cls.bias'):
            if ckpt[0] == model[0] + 1:
                return (f'the classifier has {ckpt[0]} outputs, one more than the model\'s '
                        f'{model[0]}: an mmaction2 detector (column 0 = background) needs '
                        f'roi_head background_class=True (configs/ava/zoo/mmaction2_*.py)')
            if ckpt[0] + 1 == model[0]:
                return (f'the classifier has {ckpt[0]} outputs, the model {model[0]} with a '
                        f'background column: set roi_head background_class=False '
                        f'(e.g. configs/ava/zoo/vad_*.py for VideoMAE-Action-Detection files)')
            return (f'the classifier has {ckpt[0]} classes, the config {model[0]}: set '
                    f'roi_head num_classes to the checkpoint\'s class count')
    if mismatched:
        return 'tensors of other shapes: the checkpoint was trained with another architecture'
    unexpected_blocks = any(_BLOCK.match(k) for k in report.unexpected)
    missing_blocks = any(_BLOCK.match(k) for k in report.missing)
    if unexpected_blocks and not missing_blocks:
        return (f'the checkpoint has more transformer blocks ({_depth(report.unexpected)}) '
                f'than the config builds: a deeper ViT (e.g. a ViT-L file with a ViT-B config)')
    if missing_blocks and not unexpected_blocks and any(
            _BLOCK.match(k) for k in report.missing):
        return ('the checkpoint has fewer transformer blocks than the config builds: a '
                'shallower ViT (e.g. a ViT-S/B file with a ViT-L/H config)')
    if report.missing and not report.unexpected and all(
            k.startswith('roi_head.') for k in report.missing):
        return (f'a backbone checkpoint ({report.source}), not a detector: to start training '
                f'from it set model.backbone.pretrained; to test or infer you need a '
                f'trained detector')
    if report.missing and all(k.startswith('backbone.norm.') or k.startswith('norm.')
                              for k in report.missing):
        return ('the file has no per-token final norm (a fine-tuned classifier pools with '
                'fc_norm instead)')
    if report.unexpected and not report.missing:
        return ('the checkpoint has parts the model lacks: a different head or model type '
                '(wrong config?)')
    return 'the checkpoint and the config describe different models (wrong config?)'
