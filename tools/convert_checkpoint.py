"""Convert a checkpoint from any known source to our format.

Usage::

    python tools/convert_checkpoint.py SRC OUT [--arch vit_base] [--config CFG] [--trust-pickle]

SRC, a backbone: an official VideoMAE pretraining or fine-tuned ``.pth``, a HuggingFace
``save_pretrained`` directory (or its weights file), an mmaction2 VideoMAE recognizer or
one of ours. OUT is then a plain state dict (``{name: tensor}``, our backbone's key names),
checked against ``--arch`` (or the variant the sizes match): a shape mismatch or a key the
backbone has no place for stops the conversion; keys it lacks are reported (e.g. ``norm``
for fine-tuned files, which pool with ``fc_norm`` instead).

SRC, a whole AVA detector: VideoMAE-Action-Detection's or mmaction2's released files (or
one of ours). OUT is then our detector checkpoint ``{'state_dict', 'meta': {'cfg', ...}}``
checked strictly against ``--config`` (default: the ``configs/ava/zoo`` config of its source
and width); it runs with ``tools/test.py CONFIG OUT``, ``tools/infer.py`` and
``init_detector(None, OUT)`` (the config text kept in it is read as data, never run).

Nothing is written unless every check passes; OUT is written atomically and loads with
``torch.load(OUT, weights_only=True)``.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, Optional

import torch
from mmengine.config import Config
from torch import Tensor

from videomae_det.models.backbones.vit import VARIANTS, VisionTransformer
from videomae_det.models.weights import (DETECTOR_SOURCES, convert_checkpoint,
                                         convert_detector_checkpoint, load_checked,
                                         read_checkpoint, released_detector_config, source_of)
from videomae_det.registry import MODELS
from videomae_det.utils import atomic_torch_save, cli

ZOO = Path(__file__).resolve().parents[1] / 'configs' / 'ava' / 'zoo'


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint file or HuggingFace save_pretrained directory')
    parser.add_argument('out', help='output .pth')
    parser.add_argument('--arch', choices=sorted(VARIANTS),
                        help='backbone variant to check the weights against (default: inferred)')
    parser.add_argument('--config', help='detector config to check a detector file against '
                        '(default: its configs/ava/zoo config)')
    parser.add_argument('--trust-pickle', action='store_true',
                        help='unpickle SRC fully (runs code stored in it): only for '
                             'checkpoints your own runs wrote, e.g. mmengine Runner ones')
    return parser.parse_args(argv)


def _on_meta(arch: str) -> VisionTransformer:
    # sizes only: no memory for the weights, so ViT-H checks as cheaply as ViT-S
    with torch.device('meta'):
        return VARIANTS[arch]()


def infer_arch(state_dict: Dict[str, Tensor]) -> Optional[str]:
    """The variant whose embed dim and depth the weights have, or None."""
    proj = state_dict.get('patch_embed.proj.weight')
    if proj is None:
        return None
    depth = len({k.split('.')[1] for k in state_dict if k.startswith('blocks.')})
    for arch in VARIANTS:
        model = _on_meta(arch)
        if (model.embed_dim, model.num_layers) == (proj.shape[0], depth):
            return arch
    return None


def zoo_config_of(source: str, raw, src: str) -> Path:
    name = released_detector_config(source, raw.state_dict)
    if name is None:
        raise ValueError(f'{src}: no configs/ava/zoo config matches this {source} file; '
                         f'give --config')
    return ZOO / f'{name}.py'


def convert_detector(args, raw) -> int:
    state_dict, dropped, source = convert_detector_checkpoint(raw)
    config = Path(args.config) if args.config else zoo_config_of(source, raw, args.src)
    cfg = Config.fromfile(str(config))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    load_checked(model, state_dict, args.src, source, dropped, strict=True, assign=True)
    print(f'{args.src}: source {source}, config {config}, {len(state_dict)} tensors')
    for key in sorted(dropped):
        print(f'  dropped {key}: {dropped[key]}')
    atomic_torch_save(dict(state_dict=state_dict,
                           meta=dict(cfg=cfg.pretty_text, source=source,
                                     converted_from=Path(args.src).name)), args.out)
    print(f'wrote {args.out}')
    return 0


def convert_backbone(args) -> int:
    state_dict, dropped, source = convert_checkpoint(args.src, args.trust_pickle)
    arch = args.arch or infer_arch(state_dict)
    if arch is None:
        raise cli.UsageError(f'{args.src}: sizes match no variant ({", ".join(VARIANTS)})')
    report = load_checked(_on_meta(arch), state_dict, args.src, source, dropped,
                          strict=False, assign=True)
    print(f'{args.src}: source {source}, arch {arch}, {len(state_dict)} tensors')
    for key in sorted(dropped):
        print(f'  dropped {key}: {dropped[key]}')
    for key in report.missing:
        print(f'  missing {key}: the model keeps its init')
    if report.unexpected:
        raise cli.UsageError(f'{args.src}: keys with no place in {arch}: '
                             f'{", ".join(report.unexpected)}; nothing written')
    atomic_torch_save(state_dict, args.out)
    print(f'wrote {args.out}')
    return 0


def main(argv=None) -> int:
    # a bad source is one message naming the file (WeightsMismatchError: the key report
    # with its likely cause), exit 2: utils/cli.py
    return cli.run(_main, argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    cli.check_outputs({'out': args.out}, {'src': args.src, '--config': args.config})
    raw = read_checkpoint(args.src, args.trust_pickle)
    source = source_of(raw)
    is_detector = source in DETECTOR_SOURCES or (
        source == 'ours' and any(k.startswith('roi_head.') for k in raw.state_dict))
    return convert_detector(args, raw) if is_detector else convert_backbone(args)


if __name__ == '__main__':
    sys.exit(main())
