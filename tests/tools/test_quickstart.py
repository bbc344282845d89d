"""The quickstart end to end at reduced size (tiny mini-AVA, 1 pretraining epoch, 2
fine-tuning epochs), run as a user runs it, from a working directory of its own."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch

from videomae_det.datasets.video_io import video_info
from videomae_det.utils.precision import resolve_precision

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quickstart_runs_every_step_and_writes_summary(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/quickstart.py'), '--size', 'tiny',
         '--pretrain-epochs', '1', '--epochs', '2', '--precision', 'auto'],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for step in range(1, 8):
        assert f'[{step}/7]' in proc.stdout
    # auto is resolved once (bf16 on a CPU with AMX/AVX512-BF16, else fp32) and every
    # training, evaluation and inference command of the printed steps runs in it
    used = resolve_precision('auto', 'cuda' if torch.cuda.is_available() else 'cpu')
    commands = [line for line in proc.stdout.splitlines() if line.startswith('    $ ')
                and any(f'tools/{t}.py' in line for t in ('train', 'test', 'infer'))]
    assert len(commands) == 5, commands  # pretrain, finetune, static, test, infer
    assert all(f'--precision {used}' in c for c in commands), commands

    work_dir = tmp_path / 'work_dirs' / 'quickstart'
    summary = json.loads((work_dir / 'summary.json').read_text())
    for key in ('val_mAP', 'static_baseline_mAP'):
        assert 0.0 <= summary[key] <= 1.0, (key, summary[key])
    # the summary's paths are real: the config rebuilds the model the checkpoint came from
    best = tmp_path / summary['best_checkpoint']
    assert best.name.startswith('best_') and best.is_file()
    assert Path(summary['config']).is_file()
    assert (tmp_path / summary['ap_plot']).stat().st_size > 0
    # the val mAP is the one the evaluation report holds, not a number made up on the way
    report = json.loads((work_dir / 'detector' / 'val_report.json').read_text())
    assert summary['val_mAP'] == report['mAP']
    assert set(summary['per_class_AP']) == set(report['per_class'])
    assert summary['precision'] == used

    # inference covered the whole stitched movie: 8 s at 25 fps, frame for frame
    movie = tmp_path / summary['annotated_video']
    info = video_info(movie)
    assert (info.num_frames, info.width, info.height) == (8 * 25, 160, 120)
    rows = (movie.parent / f'{movie.stem.replace("_annotated", "")}.csv').read_text().splitlines()
    assert rows and all(len(r.split(',')) == 8 for r in rows)
    # pretraining ran and its encoder is what the detector started from
    assert Path(tmp_path / summary['pretrain_checkpoint']).is_file()
    # ... and what it reconstructs of the val movie is drawn: rows original / masked /
    # reconstructed, one 112-pixel column per temporal slice of the 8-frame clip
    grid = cv2.imread(str(tmp_path / summary['mae_visualization']))
    assert grid is not None and grid.shape == (3 * 112, 4 * 112, 3)
    assert (grid[112:224] != grid[:112]).any()  # the masked row hides something


def test_quickstart_reports_a_failed_step(tmp_path):
    # a data directory that exists but is no mini-AVA: generation refuses to overwrite it,
    # and the quickstart stops at step 1 with the step named, not a traceback
    (tmp_path / 'data' / 'mini_ava').mkdir(parents=True)
    (tmp_path / 'data' / 'mini_ava' / 'precious.txt').write_text('keep me')
    proc = subprocess.run([sys.executable, str(REPO / 'tools/quickstart.py'), '--size', 'tiny'],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert 'step 1' in proc.stderr and 'Traceback' not in proc.stderr
    assert (tmp_path / 'data' / 'mini_ava' / 'precious.txt').read_text() == 'keep me'
