"""benchmarks/pretrain_pays.py: what it reads from a fine-tuning run and the schedules it sets."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('pretrain_pays',
                                                  ROOT / 'benchmarks' / 'pretrain_pays.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _val(epoch, mAP, movement_ap):
    line = {'ava/mAP': mAP, 'ava/AP_12': 0.9, 'step': epoch}
    line.update({f'ava/AP_{c}': movement_ap for c in (5, 7, 10, 14, 69)})
    return line


def test_reads_the_newest_runs_val_epochs_and_the_movement_mean(bench, tmp_path):
    old = tmp_path / '20260101_000000/vis_data'
    new = tmp_path / '20260102_000000/vis_data'
    for d in (old, new):
        d.mkdir(parents=True)
    (old / 'scalars.json').write_text(json.dumps(_val(1, 0.9, 0.9)) + '\n')
    lines = [{'loss': 1.0, 'step': 10}, _val(1, 0.20, 0.10), {'loss': 0.5, 'step': 20},
             _val(2, 0.30, 0.15), _val(3, 0.25, 0.20)]
    (new / 'scalars.json').write_text('\n'.join(json.dumps(x) for x in lines) + '\n')
    summary = bench.summarise(bench.val_history(tmp_path))
    assert summary['mAP_per_epoch'] == [0.20, 0.30, 0.25]
    assert summary['mAP'] == 0.25 and summary['movement_mAP'] == pytest.approx(0.20)
    assert (summary['best_mAP'], summary['best_epoch']) == (0.30, 2)
    # stand (12) is a pose class: not in the movement mean
    assert bench.movement_mean({'ava/AP_12': 1.0, 'ava/AP_14': 0.5}) == 0.5


def test_schedule_keeps_the_configs_warmup(bench):
    ft = bench.schedule_options(bench.DETECTOR_CONFIG, 4)
    assert ft == ['train_cfg.max_epochs=4', 'param_scheduler.1.end=4',
                  'param_scheduler.1.T_max=3']
    mk = bench.schedule_options(bench.PRETRAIN_CONFIGS['kinetics'], 10)
    assert 'param_scheduler.1.T_max=9' in mk  # after its 1 warm-up epoch
    assert bench.schedule_options(bench.DETECTOR_CONFIG, None) == []
    with pytest.raises(ValueError, match='warm-up'):
        bench.schedule_options(bench.PRETRAIN_CONFIGS['kinetics'], 1)


def test_the_init_only_control_is_the_untrained_pretraining_encoder(bench, tmp_path):
    import argparse

    import torch
    from mmengine.config import Config

    from videomae_det.models import build_backbone, load_pretrained
    args = argparse.Namespace(work_root=str(tmp_path), fresh=False, dry_run=False,
                              report_only=False)
    path = bench.untrained_encoder(args)[0]
    state = torch.load(path, weights_only=True)['state_dict']
    # the mini configs keep the detector backbone's init in the encoder (trunc-normal 0.02,
    # not the official pretraining's xavier, std 0.051), the decoder stays xavier
    assert abs(state['encoder.blocks.0.attn.qkv.weight'].std().item() - 0.02) < 0.002
    assert abs(state['decoder.blocks.0.attn.qkv.weight'].std().item()
               - (2 / (96 + 288)) ** .5) < 0.004
    geometry = Config.fromfile(str(bench.DETECTOR_CONFIG)).model.backbone
    backbone = build_backbone('vit_small', num_frames=geometry.num_frames,
                              img_size=geometry.img_size, patch_size=geometry.patch_size,
                              embed_dim=192, depth=4, num_heads=3)
    report = load_pretrained(backbone, path)
    assert report.missing == [] and report.unexpected == []
    again = bench.untrained_encoder(argparse.Namespace(**dict(vars(args), fresh=True)))[0]
    assert torch.equal(torch.load(again, weights_only=True)['state_dict'][
        'encoder.blocks.0.attn.qkv.weight'], state['encoder.blocks.0.attn.qkv.weight'])


def test_export_writes_the_pretraining_as_safetensors_with_a_checked_record(
        bench, tmp_path, monkeypatch):
    import argparse

    import torch
    from safetensors.torch import load_file

    from videomae_det.assets import shipped_mini_mae
    monkeypatch.chdir(tmp_path)  # PRETRAIN_DATA is relative, like every config's paths
    ckpt = bench.untrained_encoder(argparse.Namespace(
        work_root='work', fresh=False, dry_run=False, report_only=False))[0]
    info = dict(complete=True, seed=3, duration=10, movies=dict(unlabelled=['a', 'b']))
    (tmp_path / 'data/mini_kinetics').mkdir(parents=True)
    (tmp_path / 'data/mini_kinetics/mini_kinetics_info.json').write_text(json.dumps(info))
    train = [str(ROOT / 'tools/train.py'), str(ROOT / 'configs/pretrain/mini_kinetics.py'),
             '--work-dir', 'work/pretrain_kinetics']
    report = dict(command='python benchmarks/pretrain_pays.py --seeds 0', ft_epochs=2,
                  pretraining=dict(kinetics=dict(command=train, epochs=20)),
                  results=[dict(init='scratch', seed=0, mAP=0.18),
                           dict(init='kinetics', seed=0, mAP=0.21)])
    weights = bench.export_encoder(ckpt, report, tmp_path / 'out')
    record_path = weights.with_suffix('.json')
    record = json.loads(record_path.read_text())
    assert shipped_mini_mae(weights, record_path) == weights  # the hash is the file's
    saved = load_file(str(weights))
    state = torch.load(ckpt, weights_only=True)['state_dict']
    assert saved.keys() == state.keys()
    assert all(torch.equal(saved[k], state[k].float()) for k in state)
    assert record['parameters'] == sum(v.numel() for v in state.values())
    assert record['commands'] == [
        'python tools/data/make_mini_kinetics.py data/mini_kinetics --movies 2 --duration 10 '
        '--seed 3',
        'python tools/train.py configs/pretrain/mini_kinetics.py --work-dir '
        'work/pretrain_kinetics',
        'python benchmarks/pretrain_pays.py --seeds 0 --export']
    assert record['finetuned_val_mAP'] == {'seed 0': dict(pretrained=0.21, scratch=0.18)}
    # a damaged copy is refused, naming the file and the way to re-make it
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r'mini_mae_kinetics\.safetensors: sha256 .* damaged'):
        shipped_mini_mae(weights, record_path)
    weights.unlink()
    with pytest.raises(FileNotFoundError, match='make_mini_kinetics.py'):
        shipped_mini_mae(weights, record_path)
