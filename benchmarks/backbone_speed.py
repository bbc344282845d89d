"""ViT backbone speed and memory: ours vs HuggingFace VideoMAEModel vs mmaction2 (same weights).

Forward (inference mode) and forward+backward (training mode, loss = mean of the output)
of ViT-B on a 16x224x224 clip, batch 1, fp32. All models hold the same weights: a random
HuggingFace model is saved with ``save_pretrained`` and loaded into ours by our converter
and into mmaction2's ``VisionTransformer`` re-keyed; the outputs are compared before
timing. Repetitions are interleaved (model A, B, C, A, B, C, ...) so that load from other
jobs on the machine hits every model alike; the ratios are what matter.

Peers: HF with its default attention (SDPA in transformers 5) and with ``eager`` attention
(the plain softmax(QK^T)V path), and mmaction2 1.2's VideoMAE ViT (plain attention).

Memory: each setting runs one training step in a fresh subprocess (Linux: the RSS
high-water mark is reset just before the step); the figure is the peak RSS during the
step minus the RSS just before it (activations + gradients; the weights and the input
are already resident), and the process's total peak during the step.

    python benchmarks/backbone_speed.py                       # ViT-B, 16x224x224, batch 1
    python benchmarks/backbone_speed.py --reps 2 --size 160   # quicker, for slow machines

Prints a table and writes ``benchmarks/results/backbone_speed.json``.
"""
import argparse
import ctypes
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List

import torch
from torch import nn

from videomae_det.models.backbones.vit import build_backbone
from videomae_det.models.weights import MMACTION2_NAMES, load_pretrained
from videomae_det.utils.atomic import atomic_write_text

PEERS = ('ours', 'hf_sdpa', 'hf_eager', 'mmaction2')
MEMORY_SETTINGS = ('ours', 'ours_checkpointing', 'hf_sdpa', 'mmaction2')
TARGETS = dict(forward_vs_hf=1.1, forward_vs_mmaction2=1.3, fwd_bwd_vs_peers=1.0,
               checkpointing_memory_reduction=2.0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--size', type=int, default=224, help='input height = width (pixels)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--reps', type=int, default=3, help='timed repetitions per model')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--skip-memory', action='store_true')
    parser.add_argument('--memory-batches', type=int, nargs='+', default=[1, 2],
                        help='batch sizes of the memory runs (peers run at the first only)')
    parser.add_argument('--out', default='benchmarks/results/backbone_speed.json')
    parser.add_argument('--memory-worker', choices=MEMORY_SETTINGS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---- the three implementations, one set of weights ----------------------------------------


def load_mmaction2_vit_class():
    """mmaction2's VideoMAE ``VisionTransformer``, importing only its own file.

    ``import mmaction.models`` fails without compiled mmcv ops; ``vit_mae.py`` itself only
    needs mmcv.cnn bricks and mmaction's registry, which import fine.
    """
    import mmaction
    path = Path(mmaction.__file__).parent / 'models' / 'backbones' / 'vit_mae.py'
    spec = importlib.util.spec_from_file_location('mmaction_vit_mae', path)
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():  # mmcv-lite warns that it lacks deformable attention
        warnings.simplefilter('ignore')
        spec.loader.exec_module(module)
    return module.VisionTransformer


def to_mmaction2_keys(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our key names -> mmaction2's (the inverse of our mmaction2 converter)."""
    out = {}
    for key, value in state_dict.items():
        for theirs, ours in MMACTION2_NAMES.items():
            key = key.replace(ours, theirs)
        out[key] = value
    return out


def build_model(peer: str, frames: int, size: int) -> nn.Module:
    """One randomly initialised ViT-B of the given implementation."""
    if peer == 'ours':
        return build_backbone('vit_base', num_frames=frames, img_size=size)
    if peer.startswith('hf_'):
        from transformers import VideoMAEConfig, VideoMAEModel
        config = VideoMAEConfig(num_frames=frames, image_size=size, use_mean_pooling=False,
                                attn_implementation=peer[len('hf_'):])
        return VideoMAEModel(config)
    if peer == 'mmaction2':
        return load_mmaction2_vit_class()(
            img_size=size, num_frames=frames, use_mean_pooling=False, return_feat_map=True)
    raise ValueError(f'unknown peer {peer!r}')


def build_models(frames: int, size: int) -> Dict[str, nn.Module]:
    """All peers with identical random weights, keyed by peer name.

    The weights travel the way a user's would: HF ``save_pretrained`` -> our loader, and
    our keys -> mmaction2's names.
    """
    torch.manual_seed(0)
    hf = build_model('hf_sdpa', frames, size)
    with torch.no_grad():  # HF inits biases at zero; make them matter for the check
        for param in hf.parameters():
            if param.ndim == 1:
                param.add_(torch.randn_like(param) * 0.02)
    models = {peer: build_model(peer, frames, size) for peer in PEERS}
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        missing, unexpected = load_pretrained(models['ours'], tmp)
        assert not missing and not unexpected, (missing, unexpected)
    models['hf_sdpa'].load_state_dict(hf.state_dict())
    models['hf_eager'].load_state_dict(hf.state_dict())
    del hf
    state = to_mmaction2_keys(models['ours'].state_dict())
    state['pos_embed'] = models['mmaction2'].pos_embed  # its own (equal) sinusoid buffer
    models['mmaction2'].load_state_dict(state)
    return models


def runner(name: str, model: nn.Module, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A call returning the (B, N, D) tokens (or the map, for ours/mmaction2)."""
    if name.startswith('hf'):
        x_hf = x.transpose(1, 2)  # HF takes (B, T, C, H, W)
        return lambda: model(x_hf).last_hidden_state
    return lambda: model(x)


def as_tokens(out: torch.Tensor) -> torch.Tensor:
    return out.flatten(2).transpose(1, 2) if out.ndim == 5 else out


# ---- timing ------------------------------------------------------------------------------


def time_interleaved(calls: Dict[str, Callable[[], None]], reps: int,
                     warmup: int) -> Dict[str, List[float]]:
    """Seconds per call of each entry, rounds interleaved across entries."""
    times = {name: [] for name in calls}
    for i in range(warmup + reps):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
        print(f'  round {i + 1}/{warmup + reps} done', file=sys.stderr, flush=True)
    return times


def forward_call(fn):
    def call():
        with torch.inference_mode():
            fn()
    return call


def train_step_call(model: nn.Module, fn):
    def call():
        model.zero_grad(set_to_none=True)
        fn().mean().backward()
    return call


# ---- memory (one subprocess per setting) ------------------------------------------------------


def memory_worker(setting: str, frames: int, size: int, batch: int) -> Dict[str, float]:
    """Peak memory of one training step, measured inside this (fresh) process.

    ``gradients_mb`` (fp32, one per weight) is the part of the step's peak that no
    activation saving can remove; ``activations_mb`` = step peak - gradients.
    """
    peer = 'ours' if setting.startswith('ours') else setting
    # random weights (memory does not depend on them); no other model was ever allocated,
    # so no freed heap lets the step grow without raising the RSS
    model = build_model(peer, frames, size).train()
    if setting == 'ours_checkpointing':
        model.set_grad_checkpointing(True)
    x = torch.randn(batch, 3, frames, size, size)
    step = train_step_call(model, runner(peer, model, x))
    gc.collect()
    ctypes.CDLL('libc.so.6').malloc_trim(0)  # hand free heap back so the step must map anew
    reset_peak_rss()  # building the models (HF save/load) peaked higher than we measure
    before = _status_kib('VmRSS')
    step()
    peak = _status_kib('VmHWM')
    grads_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2 ** 20
    step_mb = (peak - before) / 1024
    return dict(step_peak_mb=step_mb, gradients_mb=grads_mb,
                activations_mb=step_mb - grads_mb, process_peak_mb=peak / 1024,
                before_mb=before / 1024)


def reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of this process's RSS (Linux >= 4.0)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def _status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field}')


def measure_memory(args) -> Dict[str, Dict[str, float]]:
    """{'<setting>@batch<b>': worker result}; peers only at the first batch size."""
    runs = [(setting, args.memory_batches[0]) for setting in MEMORY_SETTINGS]
    runs += [(setting, b) for b in args.memory_batches[1:]
             for setting in ('ours', 'ours_checkpointing')]
    results = {}
    for setting, batch in runs:
        print(f'  memory: {setting}, batch {batch}', file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, '--memory-worker', setting, '--frames',
               str(args.frames), '--size', str(args.size), '--batch', str(batch)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[f'{setting}@batch{batch}'] = dict(
            json.loads(proc.stdout.strip().splitlines()[-1]), setting=setting, batch=batch)
    return results


# ---- main --------------------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    if args.memory_worker:
        print(json.dumps(memory_worker(args.memory_worker, args.frames, args.size, args.batch)))
        return None
    models = build_models(args.frames, args.size)
    x = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    fns = {name: runner(name, model, x) for name, model in models.items()}

    with torch.inference_mode():  # same weights -> same tokens (up to fp32 rounding)
        for model in models.values():
            model.eval()
        reference = as_tokens(fns['ours']())
        max_diff = {name: (as_tokens(fn()) - reference).abs().max().item()
                    for name, fn in fns.items() if name != 'ours'}

    forward = time_interleaved({n: forward_call(f) for n, f in fns.items()},
                               args.reps, args.warmup)
    for model in models.values():
        model.train()
    fwd_bwd = time_interleaved({n: train_step_call(models[n], f) for n, f in fns.items()},
                               args.reps, args.warmup)
    del models, fns

    def med_ms(times):
        return {n: 1000 * statistics.median(t) for n, t in times.items()}

    fwd_ms, fb_ms = med_ms(forward), med_ms(fwd_bwd)
    # throughput ratio: peer time / our time (> 1: ours is faster)
    fwd_speedup = {n: fwd_ms[n] / fwd_ms['ours'] for n in fwd_ms if n != 'ours'}
    fb_speedup = {n: fb_ms[n] / fb_ms['ours'] for n in fb_ms if n != 'ours'}
    memory = {} if args.skip_memory else measure_memory(args)

    load = os.getloadavg()[0]
    report = dict(
        benchmark='backbone_speed', arch='vit_base', input=[args.frames, args.size, args.size],
        batch=args.batch, dtype='float32', device='cpu', torch=torch.__version__,
        threads=torch.get_num_threads(), cpu_count=os.cpu_count(),
        machine=platform.machine(), load_avg_1min_at_end=load, reps=args.reps,
        max_abs_diff_vs_ours=max_diff, forward_ms=fwd_ms, fwd_bwd_ms=fb_ms,
        forward_s=forward, fwd_bwd_s=fwd_bwd, forward_speedup=fwd_speedup,
        fwd_bwd_speedup=fb_speedup, memory=memory, targets=TARGETS)
    if memory:
        report['checkpointing_memory_reduction'] = {
            f'batch{b}': memory[f'ours@batch{b}']['step_peak_mb']
            / memory[f'ours_checkpointing@batch{b}']['step_peak_mb']
            for b in args.memory_batches}

    print(f'ViT-B, input {args.frames}x{args.size}x{args.size}, batch {args.batch}, fp32, '
          f'cpu, {torch.get_num_threads()} threads, medians of {args.reps} interleaved reps, '
          f'1-min load average {load:.1f} (shared machine)')
    print('| model | forward ms | ours speed-up | fwd+bwd ms | ours speed-up | '
          'max abs diff |')
    print('|---|---|---|---|---|---|')
    for name in fwd_ms:
        fs = '1.00' if name == 'ours' else f'{fwd_speedup[name]:.2f}x'
        bs = '1.00' if name == 'ours' else f'{fb_speedup[name]:.2f}x'
        diff = '-' if name == 'ours' else f'{max_diff[name]:.1e}'
        print(f'| {name} | {fwd_ms[name]:.0f} | {fs} | {fb_ms[name]:.0f} | {bs} | {diff} |')
    if memory:
        print('\n| training step | batch | step peak MB (above weights) | of which gradients '
              '| activations | process peak MB |')
        print('|---|---|---|---|---|---|')
        for m in memory.values():
            print(f"| {m['setting']} | {m['batch']} | {m['step_peak_mb']:.0f} | "
                  f"{m['gradients_mb']:.0f} | {m['activations_mb']:.0f} | "
                  f"{m['process_peak_mb']:.0f} |")
        for batch, ratio in report['checkpointing_memory_reduction'].items():
            print(f"activation checkpointing cuts the step's peak by {ratio:.2f}x at {batch} "
                  f"(target >= 2)")
    atomic_write_text(Path(args.out), json.dumps(report, indent=2) + '\n')
    print(f'wrote {args.out}')
    return report


if __name__ == '__main__':
    main()
