"""Layer-wise learning-rate decay for ViT fine-tuning (BEiT / VideoMAE recipe).

Deep blocks adapt to the new task; early blocks, which hold the generic features learned
by pretraining, move less: block i of an L-block ViT trains at
``lr * rate ** (L + 1 - layer_id)`` with layer ids patch embedding -> 0, block i -> i + 1,
and everything after the blocks (final norm, detection head, MAE decoder) -> L + 1
(scale 1). Biases, norm weights and the ``no_weight_decay()`` names of any sub-module
(position embedding, ``mask_token``, ``cls_token``) get no weight decay.

Config usage::

    optim_wrapper = dict(
        optimizer=dict(type=AdamW, lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
        constructor=LayerDecayOptimWrapperConstructor,
        paramwise_cfg=dict(layer_decay_rate=0.75))
"""
from typing import Dict, List, Set, Tuple

from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from videomae_det.registry import OPTIM_WRAPPER_CONSTRUCTORS

# parameter names never decayed, wherever they sit, even if a module forgets to list them
DEFAULT_NO_DECAY_NAMES = frozenset({'pos_embed', 'mask_token', 'cls_token'})


def find_backbone(model: nn.Module) -> Tuple[nn.Module, str]:
    """The ViT inside ``model`` -> (backbone, its parameter-name prefix).

    A detector holds it as ``model.backbone``, our MAE pretraining model as
    ``model.encoder``; a bare backbone is its own.
    """
    for attr in ('backbone', 'encoder'):
        sub = getattr(model, attr, None)
        if isinstance(sub, nn.Module) and hasattr(sub, 'get_layer_id'):
            return sub, f'{attr}.'
    if hasattr(model, 'get_layer_id'):
        return model, ''
    raise TypeError(
        f'{type(model).__name__}: layer-wise lr decay needs a ViT backbone as `model.backbone` '
        f'or `model.encoder` (with get_layer_id/num_layers)')


def no_weight_decay_names(model: nn.Module) -> Set[str]:
    """Full parameter names listed by the ``no_weight_decay()`` of ``model``'s modules."""
    names = set()
    for prefix, module in model.named_modules():
        listed = getattr(module, 'no_weight_decay', None)
        if callable(listed):
            names.update(f'{prefix}.{n}' if prefix else n for n in listed())
    return names


def layer_decay_param_groups(model: nn.Module, base_lr: float, weight_decay: float,
                             layer_decay_rate: float = 0.75) -> List[Dict]:
    """Parameter groups with per-layer lr and weight decay only where it belongs.

    Returns a list of optimizer param-group dicts, one per (layer id, decay or not),
    holding ``params``, ``lr`` (= base_lr * lr_scale), ``weight_decay``, and for the
    record ``lr_scale`` and ``layer_id``.
    """
    backbone, prefix = find_backbone(model)
    num_layers = backbone.num_layers
    skip = no_weight_decay_names(model)
    groups: Dict[Tuple[int, bool], Dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if prefix == '' or name.startswith(prefix):
            layer_id = backbone.get_layer_id(name[len(prefix):])
        else:
            layer_id = num_layers + 1
        # 1-D parameters are biases (incl. q_bias/v_bias) and norm scales/shifts
        no_decay = (param.ndim <= 1 or name in skip
                    or name.rsplit('.', 1)[-1] in DEFAULT_NO_DECAY_NAMES)
        scale = layer_decay_rate ** (num_layers + 1 - layer_id)
        group = groups.setdefault((layer_id, no_decay), dict(
            params=[], lr=base_lr * scale, lr_scale=scale, layer_id=layer_id,
            weight_decay=0. if no_decay else weight_decay))
        group['params'].append(param)
    return [groups[key] for key in sorted(groups)]


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine optimizer-wrapper constructor with layer-wise lr decay.

    ``paramwise_cfg``: ``layer_decay_rate`` (default 0.75; 1.0 disables the decay but
    keeps the no-weight-decay rules, as MAE pretraining wants). The optimizer's ``lr`` and
    ``weight_decay`` are the base values. The backbone is found as ``model.backbone`` or
    ``model.encoder`` (see :func:`find_backbone`).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        unknown = set(paramwise_cfg) - {'layer_decay_rate'}
        if unknown:
            raise ValueError(
                f'LayerDecayOptimWrapperConstructor: unsupported paramwise_cfg keys '
                f'{sorted(unknown)} (only layer_decay_rate)')
        paramwise_cfg.setdefault('layer_decay_rate', 0.75)
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params: List[Dict], module: nn.Module, **kwargs) -> None:
        params.extend(layer_decay_param_groups(
            module, self.base_lr, self.base_wd or 0.,
            self.paramwise_cfg['layer_decay_rate']))
