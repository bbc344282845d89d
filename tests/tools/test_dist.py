"""Distributed training with torchrun: 2 CPU processes (gloo) on tiny mini-AVA.

The val mAP the run computes from predictions gathered across both ranks must equal the
mAP of one process evaluating the same checkpoint, and so must the predictions CSV.
"""
import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rows(path: Path):
    """Result CSV rows as (movie, timestamp, action) -> (box, score), values as floats."""
    out = {}
    with open(path, newline='') as f:
        for movie, ts, x1, y1, x2, y2, action, score in csv.reader(f):
            key = (movie, int(ts), int(action), round(float(x1), 3), round(float(y1), 3))
            out[key] = (float(x2), float(y2), float(score))
    return out


@pytest.mark.slow
def test_two_process_metric_equals_single_process(in_mini_ava_workspace, mini_config,
                                                  tiny_options, tool):
    work_dir = in_mini_ava_workspace / 'dist'
    dist_csv = work_dir / 'val_predictions.csv'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc-per-node=2',
           '--master-addr=127.0.0.1', f'--master-port={_free_port()}',
           str(REPO / 'tools' / 'train.py'), mini_config, '--launcher', 'pytorch',
           '--work-dir', str(work_dir), '--cfg-options', *tiny_options,
           'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
           f'val_evaluator.out_file={dist_csv}']
    result = subprocess.run(cmd, cwd=in_mini_ava_workspace, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Distributed training: True' in result.stdout + result.stderr
    ckpt_path = work_dir / 'epoch_1.pth'
    dist_map = torch.load(ckpt_path, weights_only=True)['message_hub']['runtime_info'][
        'best_score']

    single_csv = in_mini_ava_workspace / 'single.csv'
    test = tool('test')
    cfg = test.build_config(test.parse_args(
        [mini_config, str(ckpt_path), '--out', str(single_csv),
         '--work-dir', str(in_mini_ava_workspace / 'single'), '--cfg-options', *tiny_options]))
    metrics, _ = test.evaluate(cfg)

    assert metrics['ava/mAP'] == pytest.approx(dist_map, abs=1e-6)
    dist_rows, single_rows = _rows(dist_csv), _rows(single_csv)
    assert dist_rows.keys() == single_rows.keys() and len(dist_rows) > 0
    for key, (x2, y2, score) in dist_rows.items():
        assert single_rows[key] == pytest.approx((x2, y2, score), abs=1e-4)
