"""One converter per known checkpoint source, each ``state dict -> (ours, dropped)``.

Backbone converters give keys relative to our ``VisionTransformer`` (``patch_embed.proj.*``,
``blocks.{i}.*``, ``norm.*``); detector converters give keys of our ``AVADetector``
(``backbone.*``, ``roi_head.fc_cls.*``); :func:`convert_huggingface_pretrain` gives keys of
our ``VideoMAEPretrainer``. ``dropped`` maps every source key that has no place in the
target to the reason, so a loader can report it; keys a converter does not recognise pass
through unchanged and surface as "unexpected" when loading.

=======================  ============================================================
source                   what the file holds
=======================  ============================================================
``official_pretrain``    VideoMAE pretraining: ``{'model': {'encoder.*', 'decoder.*',
                         'encoder_to_decoder.weight', 'mask_token'}, 'args': Namespace}``
``official_finetune``    VideoMAE fine-tuned (K400/SSv2): ``{'module' | 'model':
                         {'patch_embed.*', 'blocks.*', 'fc_norm.*', 'head.*'}}``
``huggingface``          ``transformers`` VideoMAE (``save_pretrained`` dir or file)
``mmaction2``            mmaction2 VideoMAE recognizer (``backbone.patch_embed.projection``,
                         ``mlp.layers.*``, ``cls_head.*``)
``vad_detector``         VideoMAE-Action-Detection AVA detector: ``{'model':
                         {'patch_embed.*', 'blocks.*', 'norm.*', 'head.*' (80)}}``
``mmaction2_detector``   mmaction2 VideoMAE AVA detector: ``{'state_dict': {'backbone.*',
                         'roi_head.bbox_head.fc_cls.*' (81, column 0 background)}}``
``ours``                 our checkpoints: a bare backbone, a detector (``backbone.*``,
                         ``roi_head.*``) or our MAE pretraining model (``encoder.*``)
=======================  ============================================================
"""
from typing import Callable, Dict, Mapping, Optional, Tuple

import torch
from torch import Tensor

StateDict = Dict[str, Tensor]
Converted = Tuple[StateDict, Dict[str, str]]

# fixed sinusoid tables some files store; ours is recomputed for every input size
POS_EMBED_REASON = 'fixed sinusoid position embedding, recomputed by the model'
DETECTOR_HEAD_REASON = 'AVA action classifier of a detector (a backbone has none)'


def strip_ddp_prefix(state_dict: Mapping[str, Tensor]) -> StateDict:
    """Drop the ``module.`` prefix a DistributedDataParallel-wrapped model saved with."""
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in state_dict.items()}


# ---------------------------------------------------------------------------------------
# Source detection
# ---------------------------------------------------------------------------------------


def detect_source(state_dict: Mapping[str, Tensor], container: Optional[str]) -> Optional[str]:
    """The source name of a raw state dict (see the module table), or None if unknown.

    ``container`` is where the file kept it (``'model'``, ``'module'``, ``'state_dict'``,
    ``'huggingface'`` or None for a bare dict).
    """
    keys = set(strip_ddp_prefix(state_dict))

    def has(*prefixes):
        return any(k.startswith(prefixes) for k in keys)

    if container == 'huggingface' or any('embeddings.patch_embeddings.projection' in k
                                         for k in keys):
        return 'huggingface'
    if any('patch_embed.projection.' in k for k in keys):
        return 'mmaction2_detector' if has('roi_head.') else 'mmaction2'
    if container in ('model', 'module'):
        # the official code saves {'model' | 'module': ..., 'args': Namespace, ...}
        if has('encoder.patch_embed.'):
            return 'official_pretrain'
        if 'patch_embed.proj.weight' in keys:
            # the detection model keeps the per-token norm and an 80-way head; the
            # fine-tuned classifiers pool with fc_norm instead
            if 'norm.weight' in keys and 'fc_norm.weight' not in keys and has('head.'):
                return 'vad_detector'
            return 'official_finetune'
    if has('patch_embed.', 'backbone.patch_embed.', 'encoder.patch_embed.'):
        return 'ours'
    return None


# ---------------------------------------------------------------------------------------
# Backbone converters: -> keys of VisionTransformer
# ---------------------------------------------------------------------------------------


def convert_official_pretrain(state_dict: StateDict) -> Converted:
    """Official VideoMAE pretraining checkpoint (``model``): keep ``encoder.*``.

    The decoder, ``encoder_to_decoder`` and ``mask_token`` only serve pixel
    reconstruction and are dropped.
    """
    out, dropped = {}, {}
    for key, value in strip_ddp_prefix(state_dict).items():
        if key == 'encoder.pos_embed':
            dropped[key] = POS_EMBED_REASON
        elif key.startswith('encoder.'):
            out[key[len('encoder.'):]] = value
        else:
            dropped[key] = 'pretraining decoder (pixel reconstruction only)'
    return out, dropped


def convert_official_finetune(state_dict: StateDict) -> Converted:
    """Official VideoMAE fine-tuned checkpoint (``module`` or ``model``).

    Key names are already ours. ``head.*`` (the Kinetics/SSv2 classifier) has no place in
    a backbone. Fine-tuned models pool with mean + ``fc_norm`` and have no per-token
    ``norm``; ``fc_norm`` was trained on the *mean* of the tokens, so it is dropped and
    our ``norm`` keeps its unit init (reported missing) -- what the VideoMAE detection
    code gets from the same files with its non-strict load.
    """
    out, dropped = {}, {}
    for key, value in strip_ddp_prefix(state_dict).items():
        if key.startswith('head.'):
            dropped[key] = 'classification head (the backbone has none)'
        elif key.startswith('fc_norm.'):
            dropped[key] = 'norm of the mean-pooled token; per-token norm keeps its init'
        elif key == 'pos_embed':
            dropped[key] = POS_EMBED_REASON
        else:
            out[key] = value
    return out, dropped


# HuggingFace ``VideoMAELayer`` sub-module -> ours, for weights and biases alike
_HF_LAYER_NAMES = {
    'attention.output.dense': 'attn.proj',
    'layernorm_before': 'norm1',
    'layernorm_after': 'norm2',
    'intermediate.dense': 'mlp.fc1',
    'output.dense': 'mlp.fc2',
}


def convert_huggingface(state_dict: StateDict) -> Converted:
    """HuggingFace ``transformers`` VideoMAE (``save_pretrained`` of any VideoMAE class).

    ``query/key/value`` weights are stacked into our ``qkv``; the q/v biases (stored as
    ``query.bias``/``value.bias``, or ``q_bias``/``v_bias`` in older files) become
    ``q_bias``/``v_bias``. A ``key.bias``, if a file has one, must be zero (VideoMAE has
    none): a non-zero one cannot be represented and raises.
    """
    out, dropped = {}, {}
    qkv: Dict[Tuple[str, str], Tensor] = {}
    for key, value in state_dict.items():
        name = key[len('videomae.'):] if key.startswith('videomae.') else key
        if name.startswith('embeddings.patch_embeddings.projection.'):
            out['patch_embed.proj.' + name.rsplit('.', 1)[1]] = value
        elif name.startswith('layernorm.'):
            out['norm.' + name.rsplit('.', 1)[1]] = value
        elif name.startswith('encoder.layer.'):
            i, rest = name[len('encoder.layer.'):].split('.', 1)
            prefix = f'blocks.{i}.'
            if rest.startswith('attention.attention.'):
                part = rest[len('attention.attention.'):]  # query.weight, q_bias, ...
                if part in ('q_bias', 'query.bias'):
                    out[prefix + 'attn.q_bias'] = value
                elif part in ('v_bias', 'value.bias'):
                    out[prefix + 'attn.v_bias'] = value
                elif part == 'key.bias':
                    if value.abs().max() > 0:
                        raise ValueError(f'{key}: VideoMAE has no k bias, this one is non-zero')
                    dropped[key] = 'k bias (zero in VideoMAE)'
                elif part in ('query.weight', 'key.weight', 'value.weight'):
                    qkv[(i, part.split('.')[0])] = value
                else:
                    out[key] = value  # unknown: surfaces as unexpected
            else:
                module, leaf = rest.rsplit('.', 1)
                out[prefix + _HF_LAYER_NAMES.get(module, module) + '.' + leaf] = value
        elif name == 'embeddings.position_embeddings':
            dropped[key] = POS_EMBED_REASON
        elif name.startswith(('fc_norm.', 'classifier.')):
            dropped[key] = 'video classification head (the backbone has none)'
        elif name.startswith(('decoder.', 'encoder_to_decoder.', 'mask_token',
                              'position_embeddings')):
            dropped[key] = 'pretraining decoder (pixel reconstruction only)'
        else:
            out[key] = value
    for i in sorted({i for i, _ in qkv}, key=int):
        parts = [qkv.get((i, p)) for p in ('query', 'key', 'value')]
        if any(p is None for p in parts):
            raise ValueError(f'encoder.layer.{i}: query/key/value weights incomplete')
        out[f'blocks.{i}.attn.qkv.weight'] = torch.cat(parts, dim=0)
    return out, dropped


# mmaction2 ``VisionTransformer`` (mmcv PatchEmbed / FFN) sub-module -> ours
MMACTION2_NAMES = {
    'patch_embed.projection.': 'patch_embed.proj.',
    '.mlp.layers.0.0.': '.mlp.fc1.',
    '.mlp.layers.1.': '.mlp.fc2.',
}


def _mmaction2_backbone_key(name: str) -> str:
    for theirs, ours in MMACTION2_NAMES.items():
        name = name.replace(theirs, ours)
    return name


def convert_mmaction2(state_dict: StateDict) -> Converted:
    """mmaction2 VideoMAE checkpoints (``state_dict`` with ``backbone.*``, ``cls_head.*``,
    or ``roi_head.*`` for its detectors) -> the backbone.

    mmaction2 stores the sinusoid table as a buffer (dropped: recomputed) and, for
    mean-pooling models, ``fc_norm`` (dropped, as for the official fine-tuned files).
    """
    out, dropped = {}, {}
    for key, value in strip_ddp_prefix(state_dict).items():
        name = key[len('backbone.'):] if key.startswith('backbone.') else key
        if name == 'pos_embed':
            dropped[key] = POS_EMBED_REASON
        elif name.startswith(('cls_head.', 'fc_norm.', 'data_preprocessor.')):
            dropped[key] = 'classification head / pooling norm (the backbone has none)'
        elif name.startswith('roi_head.'):
            dropped[key] = DETECTOR_HEAD_REASON
        else:
            out[_mmaction2_backbone_key(name)] = value
    return out, dropped


def convert_vad_backbone(state_dict: StateDict) -> Converted:
    """A VideoMAE-Action-Detection detector file -> its backbone (``head.*`` dropped)."""
    out, dropped = {}, {}
    for key, value in strip_ddp_prefix(state_dict).items():
        if key.startswith('head.'):
            dropped[key] = DETECTOR_HEAD_REASON
        elif key == 'pos_embed':
            dropped[key] = POS_EMBED_REASON
        else:
            out[key] = value
    return out, dropped


def convert_ours(state_dict: StateDict) -> Converted:
    """Our own checkpoints: a bare backbone, a detector (``backbone.*``) or our MAE
    pretraining model (``encoder.*``); keys of the other parts (heads, decoder) are
    dropped."""
    state_dict = strip_ddp_prefix(state_dict)
    for prefix in ('backbone.', 'encoder.'):
        if f'{prefix}patch_embed.proj.weight' in state_dict:
            out = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
            dropped = {k: 'not part of the backbone' for k in state_dict
                       if not k.startswith(prefix)}
            return out, dropped
    return dict(state_dict), {}


BACKBONE_CONVERTERS: Dict[str, Callable[[StateDict], Converted]] = {
    'official_pretrain': convert_official_pretrain,
    'official_finetune': convert_official_finetune,
    'huggingface': convert_huggingface,
    'mmaction2': convert_mmaction2,
    'mmaction2_detector': convert_mmaction2,
    'vad_detector': convert_vad_backbone,
    'ours': convert_ours,
}

# ---------------------------------------------------------------------------------------
# Detector converters: -> keys of AVADetector (backbone.*, roi_head.fc_cls.*)
# ---------------------------------------------------------------------------------------


def convert_vad_detector(state_dict: StateDict) -> Converted:
    """VideoMAE-Action-Detection AVA detector (``modeling_finetune.VisionTransformer``).

    Everything but ``head`` is the backbone with our names already; ``head`` (Linear(D,
    80), column i = AVA action id i + 1) is our ``roi_head.fc_cls``.
    """
    out, dropped = {}, {}
    for key, value in strip_ddp_prefix(state_dict).items():
        if key.startswith('head.'):
            out['roi_head.fc_cls.' + key[len('head.'):]] = value
        elif key == 'pos_embed':
            dropped[key] = POS_EMBED_REASON
        else:
            out['backbone.' + key] = value
    return out, dropped


def convert_mmaction2_detector(state_dict: StateDict) -> Converted:
    """mmaction2 ``FastRCNN`` with a VideoMAE backbone and ``BBoxHeadAVA``.

    ``roi_head.bbox_head.fc_cls`` keeps all 81 columns (column 0 is the background class):
    our head built with ``background_class=True`` has the same 81-way Linear and drops
    column 0 from its logits.
    """
    out, dropped = {}, {}
    for key, value in strip_ddp_prefix(state_dict).items():
        if key.startswith('backbone.'):
            name = key[len('backbone.'):]
            if name == 'pos_embed':
                dropped[key] = POS_EMBED_REASON
            else:
                out['backbone.' + _mmaction2_backbone_key(name)] = value
        elif key.startswith('roi_head.bbox_head.fc_cls.'):
            out['roi_head.fc_cls.' + key[len('roi_head.bbox_head.fc_cls.'):]] = value
        elif key.startswith('data_preprocessor.'):
            dropped[key] = 'mmaction2 data preprocessor buffers (mean/std come from the config)'
        else:
            out[key] = value
    return out, dropped


def convert_ours_detector(state_dict: StateDict) -> Converted:
    """Our detector checkpoints: key names are already those of the model."""
    return strip_ddp_prefix(state_dict), {}


def _backbone_only(source: str) -> Callable[[StateDict], Converted]:
    convert = BACKBONE_CONVERTERS[source]

    def to_detector(state_dict: StateDict) -> Converted:
        out, dropped = convert(state_dict)
        return {f'backbone.{k}': v for k, v in out.items()}, dropped

    to_detector.__doc__ = f'A {source} backbone file: its weights under ``backbone.``.'
    return to_detector


DETECTOR_CONVERTERS: Dict[str, Callable[[StateDict], Converted]] = {
    'vad_detector': convert_vad_detector,
    'mmaction2_detector': convert_mmaction2_detector,
    'ours': convert_ours_detector,
    **{s: _backbone_only(s)
       for s in ('official_pretrain', 'official_finetune', 'huggingface', 'mmaction2')},
}

# sources whose files hold a whole detector (backbone and action classifier)
DETECTOR_SOURCES = ('vad_detector', 'mmaction2_detector')

# the configs/ava/zoo config (file stem) of each released detector, by source and ViT width
RELEASED_DETECTOR_CONFIGS = {
    'vad_detector': {384: 'vad_vit_small', 768: 'vad_vit_base', 1024: 'vad_vit_large',
                     1280: 'vad_vit_huge'},
    'mmaction2_detector': {768: 'mmaction2_vit_base', 1024: 'mmaction2_vit_large'},
}


def released_detector_config(source: str, state_dict: Mapping[str, Tensor]) -> Optional[str]:
    """The zoo config stem for a released detector file (raw keys), or None."""
    by_width = RELEASED_DETECTOR_CONFIGS.get(source)
    if not by_width:
        return None
    proj = [v for k, v in state_dict.items() if k.endswith('patch_embed.proj.weight')
            or k.endswith('patch_embed.projection.weight')]
    return by_width.get(int(proj[0].shape[0])) if proj else None

# ---------------------------------------------------------------------------------------
# Pretraining model converter: -> keys of VideoMAEPretrainer
# ---------------------------------------------------------------------------------------


def convert_huggingface_pretrain(state_dict: StateDict) -> Converted:
    """HuggingFace ``VideoMAEForPreTraining`` weights -> our pretraining layout.

    The encoder (``videomae.*``) and every decoder layer (``decoder.decoder_layers.{i}.*``,
    the same layer class) go through :func:`convert_huggingface`, so q/k/v stacking and
    renaming live in one place; ``decoder.norm``, ``decoder.head``, ``encoder_to_decoder``
    and ``mask_token`` already have our names.
    """
    encoder = {k: v for k, v in state_dict.items() if k.startswith('videomae.')}
    out, dropped = {}, {}
    converted, why = convert_huggingface(encoder)
    out.update({f'encoder.{k}': v for k, v in converted.items()})
    dropped.update(why)
    layers: Dict[str, Dict[str, Tensor]] = {}
    for key, value in state_dict.items():
        if key.startswith('decoder.decoder_layers.'):
            i, rest = key[len('decoder.decoder_layers.'):].split('.', 1)
            layers.setdefault(i, {})[f'encoder.layer.{i}.{rest}'] = value
        elif key.startswith(('decoder.norm.', 'decoder.head.')) or key in (
                'encoder_to_decoder.weight', 'mask_token'):
            out[key] = value
        elif not key.startswith('videomae.'):
            dropped[key] = 'not part of the pretraining model (e.g. a fixed position table)'
    for layer in layers.values():
        converted, why = convert_huggingface(layer)
        out.update({f'decoder.{k}': v for k, v in converted.items()})
        dropped.update(why)
    return out, dropped


def convert_pretrain_model(state_dict: StateDict, source: str) -> Converted:
    """Any source holding a whole pretraining model -> keys of ``VideoMAEPretrainer``.

    The official files and ours already have its names (``encoder.*``, ``decoder.*``);
    stored fixed position tables are dropped (recomputed).
    """
    if source == 'huggingface':
        return convert_huggingface_pretrain(state_dict)
    out, dropped = {}, {}
    for key, value in strip_ddp_prefix(state_dict).items():
        if key.endswith('pos_embed'):
            dropped[key] = POS_EMBED_REASON
        else:
            out[key] = value
    return out, dropped
