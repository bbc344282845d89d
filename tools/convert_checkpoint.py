"""Convert a VideoMAE backbone checkpoint from any known source to our key layout.

Usage::

    python tools/convert_checkpoint.py SRC OUT [--arch vit_base] [--trust-pickle]

SRC: an official VideoMAE pretraining or fine-tuned ``.pth``, a HuggingFace
``save_pretrained`` directory (or its weights file), an mmaction2 VideoMAE checkpoint or
one of ours. OUT: a plain state dict (``{name: tensor}``, our backbone's key names),
written atomically, loadable with ``torch.load(OUT, weights_only=True)``.

The weights are checked against ``--arch`` (or the variant their sizes match): a shape
mismatch or a key the backbone has no place for stops the conversion, nothing is
written; keys the backbone expects but the file lacks are reported (e.g. ``norm`` for
fine-tuned files, which pool with ``fc_norm`` instead).
"""
import argparse
import pickle
import sys
from typing import Dict, Optional

import torch
from torch import Tensor

from videomae_det.models.backbones.vit import VARIANTS, VisionTransformer
from videomae_det.models.weights import convert_checkpoint, load_checked
from videomae_det.utils import atomic_torch_save


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint file or HuggingFace save_pretrained directory')
    parser.add_argument('out', help='output .pth (plain state dict)')
    parser.add_argument('--arch', choices=sorted(VARIANTS),
                        help='variant to check the weights against (default: inferred)')
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


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        state_dict, dropped, source = convert_checkpoint(args.src, args.trust_pickle)
        arch = args.arch or infer_arch(state_dict)
        if arch is None:
            print(f'{args.src}: sizes match no variant ({", ".join(VARIANTS)})',
                  file=sys.stderr)
            return 1
        missing, unexpected = load_checked(
            _on_meta(arch), state_dict, args.src, source, dropped, strict=False, assign=True)
    except (OSError, ValueError, pickle.UnpicklingError) as e:
        # already one message naming the file and what is wrong
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'{args.src}: source {source}, arch {arch}, {len(state_dict)} tensors')
    for key in sorted(dropped):
        print(f'  dropped {key}: {dropped[key]}')
    for key in missing:
        print(f'  missing {key}: the model keeps its init')
    if unexpected:
        print(f'{args.src}: keys with no place in {arch}: {", ".join(unexpected)}; '
              f'nothing written', file=sys.stderr)
        return 1
    atomic_torch_save(state_dict, args.out)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
