"""tools/train.py: pre-flight errors, a real training run on mini-AVA, exact resume."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from videomae_det.registry import MODELS

REPO = Path(__file__).resolve().parents[2]


def test_missing_data_stops_before_building_anything(tmp_path):
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'train.py'), str(REPO / 'configs/ava/vit_b.py'),
         '--work-dir', str(work_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr
    # names the missing files, where data must be and how to make it
    assert 'data/ava/annotations/ava_train_v2.2_min.json' in result.stderr
    assert 'data/ava/clips/trainval' in result.stderr
    assert 'docs/data.md' in result.stderr
    assert 'tools/data/make_mini_ava.py' in result.stderr
    assert not work_dir.exists()  # stopped before the Runner made its work dir


def test_config_typos_give_one_clear_error(in_mini_ava_workspace, mini_config, tool, capsys):
    train = tool('train')
    assert train.main([mini_config, '--cfg-options', 'model.roi_head.dropuot=0.1']) == 2
    err = capsys.readouterr().err
    assert "no key 'dropuot'" in err and 'did you mean dropout' in err
    # a misspelt registry type is reported by name, before any training
    code = train.main([mini_config, '--work-dir', str(in_mini_ava_workspace / 'w'),
                       '--cfg-options', 'model.roi_head.type=AVARoIHeadd'])
    assert code == 2
    assert 'AVARoIHeadd' in capsys.readouterr().err
    assert train.main([mini_config, '--resume', 'nowhere/epoch_1.pth']) == 2
    assert 'nowhere/epoch_1.pth' in capsys.readouterr().err
    # two precision switches that could disagree: one clear error, not a silent pick
    assert train.main([mini_config, '--amp', '--precision', 'bf16']) == 2
    assert '--amp and --precision bf16' in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path of --precision')
@pytest.mark.parametrize('flags', [['--precision', 'bf16'], ['--amp']])
def test_emulated_bf16_training_is_warned_about(mini_config, tool, monkeypatch, capsys, flags):
    """bf16 autocast on a CPU without bf16 instructions is several times slower than fp32:
    the user hears it before training starts (auto would have picked fp32)."""
    import videomae_det.utils.precision as precision
    train = tool('train')
    for native in (False, True):
        monkeypatch.setattr(precision, 'native_bf16_cpu', lambda *a, **k: native)
        train.build_config(train.parse_args([mini_config, *flags]))
        err = capsys.readouterr().err
        assert ('warning: bf16 on this CPU is emulated' in err) == (not native), err


@pytest.mark.slow
def test_training_writes_self_describing_best_checkpoint(in_mini_ava_workspace, tiny_options,
                                                          tool, mini_config):
    train = tool('train')
    work_dir = in_mini_ava_workspace / 'work'
    assert train.main([mini_config, '--work-dir', str(work_dir), '--cfg-options',
                       *tiny_options, 'train_cfg.max_epochs=2']) == 0
    best = sorted(work_dir.glob('best_ava_mAP_epoch_*.pth'))
    assert len(best) == 1 and (work_dir / 'epoch_2.pth').is_file()
    ckpt = torch.load(best[0], weights_only=True)  # loads without any allow-list
    best_map = ckpt['message_hub']['runtime_info']['best_score']
    assert 0.0 <= best_map <= 1.0
    # the config text in the checkpoint rebuilds the model; the weights fit it exactly
    cfg = Config.fromstring(ckpt['meta']['cfg'], file_format='.py')
    model = MODELS.build(cfg.model)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert model.backbone.embed_dim == 32


# registered by name: the config text stored in checkpoints cannot hold a class object
@HOOKS.register_module(name='StopAfterEpochForTest', force=True)
class _StopAfterEpoch(Hook):
    """Simulates an interrupted run: training stops after ``epoch`` (its checkpoint saved)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 >= self.epoch:
            runner.train_loop.stop_training = True


@pytest.mark.slow
def test_resumed_run_equals_uninterrupted_run(in_mini_ava_workspace, mini_config, tiny_options,
                                              tool):
    train = tool('train')
    options = ['--cfg-options', *tiny_options, 'train_cfg.max_epochs=3']
    straight = in_mini_ava_workspace / 'straight'
    assert train.main([mini_config, '--work-dir', str(straight), *options]) == 0

    split = in_mini_ava_workspace / 'split'
    args = train.parse_args([mini_config, '--work-dir', str(split), *options])
    cfg = train.build_config(args)
    cfg.custom_hooks = [dict(type='StopAfterEpochForTest', epoch=2)]
    Runner.from_cfg(cfg).train()
    assert (split / 'epoch_2.pth').is_file() and not (split / 'epoch_3.pth').exists()
    # `--resume` without a path continues from the latest checkpoint of the work dir
    assert train.main([mini_config, '--work-dir', str(split), '--resume', *options]) == 0

    a = torch.load(straight / 'epoch_3.pth', weights_only=True)
    b = torch.load(split / 'epoch_3.pth', weights_only=True)
    assert a['meta']['iter'] == b['meta']['iter']
    for name, tensor in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][name], tensor, rtol=0, atol=0, msg=name)
    for sa, sb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        torch.testing.assert_close(sb['exp_avg'], sa['exp_avg'], rtol=0, atol=0)
