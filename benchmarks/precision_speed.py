"""bf16 autocast vs fp32 on this machine: ViT backbone forward and one training step.

Our ViT (ViT-B by default) on a 16x224x224 clip, batch 1, the same weights and input:

* ``forward``: inference (``torch.no_grad``), fp32 vs ``--precision`` (bf16 autocast);
* ``train step``: forward + backward + AdamW step (loss = mean of the output), fp32 vs
  bf16 autocast, weights and optimizer states float32 (what ``tools/train.py --amp``
  does on a CPU).

Repetitions are interleaved (fp32, bf16, fp32, ...) so load from other jobs hits both
alike; the table gives medians and the ratio fp32 time / bf16 time (> 1: bf16 is faster).
The output also says whether the CPU multiplies bf16 natively (AVX512-BF16 / AMX / ARM
BF16): without it PyTorch emulates bf16 and it is expected to be slower, which is why
``--precision auto`` picks fp32 there. The bf16 forward's largest deviation from fp32
(relative to the output's scale) is reported too.

    python benchmarks/precision_speed.py                          # ViT-B, 16x224x224
    python benchmarks/precision_speed.py --size 160 --reps 2      # quicker

Prints a table and writes ``benchmarks/results/precision_speed.json``.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from videomae_det.models.backbones.vit import VisionTransformer  # noqa: E402
from videomae_det.utils.atomic import atomic_write_text  # noqa: E402
from videomae_det.utils.precision import (PRECISIONS, autocast, describe,  # noqa: E402
                                          native_bf16_cpu, resolve_precision)

TARGET_FORWARD_SPEEDUP = 1.8  # where the CPU has native bf16

SIZES = dict(vit_s=dict(embed_dim=384, depth=12, num_heads=6),
             vit_b=dict(embed_dim=768, depth=12, num_heads=12))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', choices=sorted(SIZES), default='vit_b')
    p.add_argument('--frames', type=int, default=16)
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--reps', type=int, default=3, help='timed repetitions of each')
    p.add_argument('--train-reps', type=int, default=2)
    p.add_argument('--precision', choices=PRECISIONS, default='bf16',
                   help='the contender against fp32 (auto resolves as the tools do)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--out', default=str(Path(__file__).resolve().parent / 'results'
                                        / 'precision_speed.json'))
    return p.parse_args(argv)


def _sync(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def main(argv=None) -> int:
    args = parse_args(argv)
    device = args.device
    contender = resolve_precision(args.precision, device)
    torch.manual_seed(0)
    model = VisionTransformer(num_frames=args.frames, img_size=args.size, patch_size=16,
                              **SIZES[args.model]).to(device)
    x = torch.randn(1, 3, args.frames, args.size, args.size, device=device)
    print(f'{describe(device)}; {args.model} {args.frames}x{args.size}x{args.size}, '
          f'{torch.get_num_threads()} threads; fp32 vs {contender}', flush=True)

    def forward(precision):
        def call():
            with torch.no_grad(), autocast(precision, device):
                return model(x)
        return call

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)

    def train_step(precision):
        def call():
            with autocast(precision, device):
                loss = model(x).float().mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return call

    model.eval()
    ref = forward('fp32')()
    out = forward(contender)()
    deviation = float((out.float() - ref).abs().max() / ref.abs().max())
    times = {k: [] for k in ('forward_fp32', f'forward_{contender}')}
    for _ in range(args.reps):
        for p in ('fp32', contender):
            times[f'forward_{p}'].append(timed(forward(p), device))
    model.train()
    train_step('fp32')()  # warm-up: optimizer state allocation
    times.update({'train_fp32': [], f'train_{contender}': []})
    for _ in range(args.train_reps):
        for p in ('fp32', contender):
            times[f'train_{p}'].append(timed(train_step(p), device))

    med = {k: statistics.median(v) for k, v in times.items()}
    fwd_ratio = med['forward_fp32'] / med[f'forward_{contender}']
    train_ratio = med['train_fp32'] / med[f'train_{contender}']
    print()
    print(f'| step | fp32 s | {contender} s | speed-up (fp32 / {contender}) |')
    print('|---|---|---|---|')
    print(f'| forward (no grad) | {med["forward_fp32"]:.2f} | '
          f'{med[f"forward_{contender}"]:.2f} | {fwd_ratio:.2f}x |')
    print(f'| train step (fwd+bwd+AdamW) | {med["train_fp32"]:.2f} | '
          f'{med[f"train_{contender}"]:.2f} | {train_ratio:.2f}x |')
    native = native_bf16_cpu() if torch.device(device).type == 'cpu' else None
    print(f'bf16 forward max deviation from fp32: {deviation:.2e} of the output scale')
    print(f'native bf16 on this CPU: {native}; target forward speed-up >= '
          f'{TARGET_FORWARD_SPEEDUP}x applies only with native bf16; load average '
          f'{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs')
    result = dict(
        benchmark='precision_speed', model=args.model, frames=args.frames, size=args.size,
        device=device, device_description=describe(device), native_bf16_cpu=native,
        contender=contender, seconds=times, median_seconds=med, forward_speedup=fwd_ratio,
        train_step_speedup=train_ratio, bf16_max_relative_deviation=deviation,
        target_forward_speedup=TARGET_FORWARD_SPEEDUP, threads=torch.get_num_threads(),
        cpus=os.cpu_count(), load_average=os.getloadavg(), torch=torch.__version__,
        python=platform.python_version(),
        command='python benchmarks/precision_speed.py ' + ' '.join(
            sys.argv[1:] if argv is None else argv))
    atomic_write_text(args.out, json.dumps(result, indent=1) + '\n')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
