"""Pretraining step time: tube mask 0.9 vs the same model fed every token.

One training step = forward + backward + AdamW update of the whole VideoMAE pretraining
model (encoder, encoder_to_decoder, decoder). The peer is the same model with mask ratio 0:
the encoder sees all N tokens and the decoder reconstructs every cube. The claim under test
(VideoMAE, arXiv:2203.12602) is that masking 90% makes a step several times cheaper,
target ratio <= 0.35.

    python benchmarks/pretrain_speed.py                      # ViT-B, 16x224x224, batch 1
    python benchmarks/pretrain_speed.py --size 160 --steps 2 # smaller, for slow machines

Prints a table and writes ``benchmarks/results/pretrain_speed.json``.
"""
import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from videomae_det.models.backbones.vit import build_backbone
from videomae_det.models.pretrain.videomae import VideoMAEPretrainer
from videomae_det.utils.atomic import atomic_write_text

# decoder sizes per encoder (official pretraining scripts)
DECODERS = dict(vit_small=(192, 3), vit_base=(384, 6), vit_large=(512, 8), vit_huge=(640, 8))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='vit_base', choices=sorted(DECODERS))
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--size', type=int, default=224, help='input height = width (pixels)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--mask-ratio', type=float, default=0.9)
    parser.add_argument('--steps', type=int, default=3, help='timed steps per setting')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch\'s choice); 1 avoids thrashing '
                        'on a machine shared with other jobs')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', default='benchmarks/results/pretrain_speed.json')
    return parser.parse_args(argv)


def step_times(model: VideoMAEPretrainer, inputs: torch.Tensor, steps: int,
               warmup: int) -> list:
    """Seconds per fwd+bwd+AdamW step (fresh masks every step), after ``warmup`` steps."""
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95))
    times = []
    for i in range(warmup + steps):
        if inputs.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss = model(inputs, mode='loss')['loss_rec']
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        if inputs.is_cuda:
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dec_dim, dec_heads = DECODERS[args.arch]
    inputs = torch.randn(args.batch, 3, args.frames, args.size, args.size, device=args.device)
    results = {}
    for name, ratio in (('masked', args.mask_ratio), ('all_tokens', 0.0)):
        encoder = build_backbone(args.arch, num_frames=args.frames, img_size=args.size)
        model = VideoMAEPretrainer(encoder, decoder_embed_dim=dec_dim, decoder_depth=4,
                                   decoder_num_heads=dec_heads, mask_ratio=ratio)
        model.to(args.device).train()
        times = step_times(model, inputs, args.steps, args.warmup)
        num_tokens = model.token_grid(inputs)
        n = num_tokens[0] * num_tokens[1] * num_tokens[2]
        visible = n - int(model.sample_mask(inputs)[0].sum())
        results[name] = dict(mask_ratio=ratio, encoder_tokens=visible, total_tokens=n,
                             step_s_median=statistics.median(times), step_s=times)
        del model, encoder
    ratio = results['masked']['step_s_median'] / results['all_tokens']['step_s_median']
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    report = dict(
        benchmark='pretrain_speed', arch=args.arch, input=[args.frames, args.size, args.size],
        batch=args.batch, device=args.device, torch=torch.__version__,
        threads=torch.get_num_threads(), machine=platform.machine(), load_avg_1min=load,
        results=results, masked_over_all_tokens=ratio, target_ratio=0.35,
        meets_target=ratio <= 0.35)
    load_text = f', 1-min load average {load:.1f}' if load is not None else ''
    print(f'{args.arch} pretraining step (fwd+bwd+AdamW), input {args.frames}x{args.size}x'
          f'{args.size}, batch {args.batch}, {args.device}, {torch.get_num_threads()} threads'
          f'{load_text}')
    print(f'| setting | encoder tokens | step time (s, median of {args.steps}) |')
    print('|---|---|---|')
    for name, r in results.items():
        print(f"| {name} (mask {r['mask_ratio']}) | {r['encoder_tokens']} / {r['total_tokens']} "
              f"| {r['step_s_median']:.3f} |")
    print(f'| ratio masked / all tokens | | **{ratio:.3f}** (target <= 0.35) |')
    atomic_write_text(Path(args.out), json.dumps(report, indent=2) + '\n')
    print(f'wrote {args.out}')
    return report


if __name__ == '__main__':
    main()
