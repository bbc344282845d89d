"""Overfit one training batch with a plain PyTorch loop (no Runner, no hooks).

    python tools/overfit_batch.py configs/mini_ava/vit_tiny.py --steps 50

The debugging tool of last resort: if the loss of a single batch does not fall towards
zero here, the problem is in the data, the model or the loss, not in the training
machinery. Prints the loss of every step and exits non-zero if it did not halve.
"""
import argparse
import sys
import time
from typing import List, Optional

import torch
from mmengine.config import DictAction
from mmengine.runner import Runner

from videomae_det.engine.config_checks import check_data_paths, load_config
from videomae_det.registry import MODELS
from videomae_det.utils import cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description='Overfit one batch (plain PyTorch)')
    parser.add_argument('config')
    parser.add_argument('--steps', type=cli.positive_int, default=50)
    parser.add_argument('--lr', type=cli.positive, default=1e-3, help='AdamW learning rate')
    parser.add_argument('--batch-size', type=cli.positive_int, default=None,
                        help='default: the config\'s train batch size')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE')
    return parser.parse_args(argv)


def overfit(model: torch.nn.Module, batch: dict, steps: int, lr: float) -> List[float]:
    """``steps`` AdamW updates on one collated batch; returns the loss of every step."""
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.)
    data = model.data_preprocessor(batch, training=True)
    history = []
    for step in range(steps):
        losses = model(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        print(f'step {step + 1:4d}/{steps}  loss {loss.item():.5f}', flush=True)
    return history


def main(argv: Optional[List[str]] = None) -> int:
    return cli.run(_main, argv)


def _main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    check_data_paths(cfg, ['train_dataloader'])
    torch.manual_seed(args.seed)
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.num_workers = 0
    loader_cfg.pop('persistent_workers', None)
    if args.batch_size:
        loader_cfg.batch_size = args.batch_size
    cfg.model.backbone.pretrained = None  # debugging the head and data: random init is fine
    batch = next(iter(Runner.build_dataloader(loader_cfg, seed=args.seed)))
    model = MODELS.build(cfg.model)
    start = time.time()
    history = overfit(model, batch, args.steps, args.lr)
    print(f'loss {history[0]:.5f} -> {history[-1]:.5f} in {args.steps} steps '
          f'({time.time() - start:.1f} s)')
    return 0 if history[-1] < 0.5 * history[0] else 1


if __name__ == '__main__':
    sys.exit(main())
