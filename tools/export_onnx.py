"""Export a trained detector to ONNX (backbone + RoI head; dynamic number of boxes).

    python tools/export_onnx.py CONFIG CHECKPOINT out.onnx [--shape T H W] [--opset 17]

Inputs of the exported graph: ``clip`` float32 (1, 3, T, H, W), normalised as the config's
data preprocessor does (mean/std in 0-255 RGB), H and W multiples of the backbone's patch
size; ``rois`` float32
(K, 5) rows ``[0, x1, y1, x2, y2]`` in pixels of the clip. Outputs: ``logits`` and
``scores`` (sigmoid), (K, 80), column i = AVA action id i + 1.
"""
import argparse
import sys
import warnings

from videomae_det.apis import init_detector
from videomae_det.apis.export import export_onnx
from videomae_det.apis.inference import clip_spec_of, default_input_size
from videomae_det.utils import cli


def parse_args(argv=None) -> argparse.Namespace:
    p = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('out', help='the .onnx file to write')
    p.add_argument('--shape', type=cli.positive_int, nargs=3, metavar=('T', 'H', 'W'),
                   help='clip size (default: the config\'s clip length and a square of its '
                   'test-time short side)')
    p.add_argument('--opset', type=int, default=17)
    return p.parse_args(argv)


def main(argv=None) -> int:
    return cli.run(_main, argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    cli.check_outputs({'out': args.out}, {'config': args.config, 'checkpoint': args.checkpoint})
    model = init_detector(args.config, args.checkpoint, device='cpu')
    if args.shape:
        shape = args.shape
    else:
        side = default_input_size(model.cfg, model.backbone.patch_size)
        shape = (clip_spec_of(model.cfg).clip_len, side, side)
    with warnings.catch_warnings():
        # the TorchScript exporter's deprecation and tracer notes are not actionable here
        warnings.simplefilter('ignore')
        try:
            export_onnx(model, args.out, shape, opset=args.opset)
        except ValueError as e:  # a shape or opset the model cannot take
            print(f'error: {e}', file=sys.stderr)
            return 2
    print(f'wrote {args.out} (clip 1x3x{shape[0]}x{shape[1]}x{shape[2]}, dynamic boxes, '
          f'opset {args.opset})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
