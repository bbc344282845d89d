"""tools/test.py: a detector checkpoint -> per-class AP table, mAP and the result CSV."""
import csv

import torch
from mmengine.config import Config

from videomae_det.registry import MODELS
from videomae_det.utils.atomic import atomic_torch_save


def _checkpoint(path, mini_config, options):
    """A random tiny detector saved as training saves it (state_dict + meta['cfg'])."""
    cfg = Config.fromfile(mini_config)
    cfg.merge_from_dict(dict(o.split('=') for o in options if o.startswith('model.')))
    for key in ('embed_dim', 'depth', 'num_heads'):
        cfg.model.backbone[key] = int(cfg.model.backbone[key])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    atomic_torch_save(dict(state_dict=model.state_dict(), meta=dict(cfg=cfg.pretty_text)), path)


def test_prints_table_and_writes_csv(in_mini_ava_workspace, mini_config, tiny_options, tool,
                                     capsys):
    ckpt = in_mini_ava_workspace / 'det.pth'
    _checkpoint(ckpt, mini_config, tiny_options)
    out = in_mini_ava_workspace / 'results' / 'val.csv'
    test = tool('test')
    assert test.main([mini_config, str(ckpt), '--out', str(out), '--work-dir',
                      str(in_mini_ava_workspace / 'w'), '--cfg-options', *tiny_options]) == 0
    printed = capsys.readouterr().out
    table = printed[printed.rindex('AP (%)'):]
    # the classes with ground truth in tiny mini-AVA's val movie, by id and name, then mAP
    assert '10 run/jog' in table and '12 stand' in table
    map_row = [line for line in table.splitlines() if line.startswith('mAP ')]
    assert len(map_row) == 1 and 0.0 <= float(map_row[0].split()[-1]) <= 100.0
    with open(out, newline='') as f:
        rows = list(csv.reader(f))
    # one row per (detected box, mini-AVA class): 12 classes of the mini label map
    assert rows and all(len(r) == 8 for r in rows)
    assert {int(r[6]) for r in rows} <= {1, 5, 7, 8, 10, 11, 12, 14, 68, 69, 74, 79}
    assert all(0.0 <= float(r[7]) <= 1.0 for r in rows)


def test_missing_checkpoint_is_named(in_mini_ava_workspace, mini_config, tool, capsys):
    assert tool('test').main([mini_config, 'work_dirs/none/best.pth']) == 2
    assert 'checkpoint not found: work_dirs/none/best.pth' in capsys.readouterr().err


def _rows(path):
    with open(path, newline='') as f:
        return list(csv.reader(f))


def test_batch_size_and_precision(in_mini_ava_workspace, mini_config, tiny_options, tool):
    """Batching changes speed only: batch 1 and batch 5 write the same detections. bf16
    autocast gives the same rows with scores within bfloat16 rounding of fp32."""
    ckpt = in_mini_ava_workspace / 'det.pth'
    _checkpoint(ckpt, mini_config, tiny_options)
    test = tool('test')
    outs = {}
    for name, extra in [('b1', ['--batch-size', '1']), ('b5', ['--batch-size', '5']),
                        ('bf16', ['--batch-size', '5', '--precision', 'bf16'])]:
        outs[name] = in_mini_ava_workspace / f'{name}.csv'
        assert test.main([mini_config, str(ckpt), '--out', str(outs[name]), '--work-dir',
                          str(in_mini_ava_workspace / 'w'), '--cfg-options', *tiny_options,
                          *extra]) == 0
    b1, b5, bf16 = (_rows(outs[k]) for k in ('b1', 'b5', 'bf16'))
    assert b1 and b1 == b5
    assert [r[:7] for r in bf16] == [r[:7] for r in b1]
    diffs = [abs(float(a[7]) - float(b[7])) for a, b in zip(b1, bf16)]
    assert max(diffs) < 0.02 and any(d > 0 for d in diffs)


def test_bad_batch_size_is_named(in_mini_ava_workspace, mini_config, tool, capsys):
    ckpt = in_mini_ava_workspace / 'det.pth'
    ckpt.write_bytes(b'')
    assert tool('test').main([mini_config, str(ckpt), '--batch-size', '0']) == 2
    assert '--batch-size must be at least 1; got 0' in capsys.readouterr().err


def test_a_checkpoint_that_does_not_fit_exits_2_with_the_key_report(
        in_mini_ava_workspace, mini_config, tiny_options, tool, capsys):
    """Strict loading: a detector with a 3-block backbone and another class count is refused
    (exit 2, key lists, likely cause) instead of scoring a half-random model;
    --partial-load is the explicit way to evaluate it anyway."""
    ckpt = in_mini_ava_workspace / 'other.pth'
    other = [o for o in tiny_options if 'depth' not in o] + ['model.backbone.depth=3']
    _checkpoint(ckpt, mini_config, other)
    state = torch.load(ckpt, weights_only=True)
    state['state_dict'].pop('roi_head.fc_cls.bias')
    torch.save(state, ckpt)
    args = [mini_config, str(ckpt), '--work-dir', str(in_mini_ava_workspace / 'w2'),
            '--cfg-options', *tiny_options]
    test = tool('test')
    assert test.main(args) == 2
    err = capsys.readouterr().err
    assert 'other.pth' in err and 'missing (1): roi_head.fc_cls.bias' in err
    assert 'unexpected' in err and 'backbone.blocks.1.' in err
    assert 'likely cause: the checkpoint has more transformer blocks (3)' in err
    assert test.main(args + ['--partial-load']) == 0
    assert 'mAP' in capsys.readouterr().out
