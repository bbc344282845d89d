"""Pre-flight checks of the tools: option keys, class imports, data paths, AMP switch."""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from videomae_det.engine.amp import CPUAmpOptimWrapper
from videomae_det.engine.config_checks import (ConfigError, DataNotFoundError, check_data_paths,
                                               check_option_keys, check_option_values,
                                               check_pretrained, enable_amp, load_config,
                                               set_training_precision)

CONFIG = '''
from torch.optim import AdamW
from videomae_det.datasets import AVAVideoDataset
from videomae_det.models.heads import AVARoIHead

model = dict(type='AVADetector', roi_head=dict(type=AVARoIHead, in_channels=8),
             backbone=dict(type='VisionTransformer', pretrained=None))
optim_wrapper = dict(optimizer=dict(type=AdamW, lr=1e-3))
param_scheduler = [dict(type='LinearLR', begin=0, end=1)]
train_dataloader = dict(batch_size=2, dataset=dict(type=AVAVideoDataset, data_root=ROOT,
                                                   ann_file='annotations/train.json'))
val_dataloader = dict(batch_size=2, dataset=dict(type=AVAVideoDataset, data_root=ROOT,
                      ann_file='annotations/val.json', proposal_file='boxes/dets.json',
                      layout='frames'))
val_evaluator = dict(type='AVAMetric', ann_file=ROOT + '/annotations/val.csv',
                     label_map_file=ROOT + '/annotations/labels.pbtxt')
'''


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text(CONFIG.replace('ROOT', repr(str(tmp_path / 'data'))))
    return path


def test_option_keys_must_exist_or_be_constructor_arguments(config_file):
    cfg = Config.fromfile(str(config_file))
    check_option_keys(cfg, {'model.roi_head.dropout': 0.1,       # not in the file, an argument
                            'optim_wrapper.optimizer.lr': 1e-4,  # in the file
                            'param_scheduler.0.end': 2})         # list item by index
    with pytest.raises(ConfigError, match="no key 'dropuot'.*did you mean dropout"):
        check_option_keys(cfg, {'model.roi_head.dropuot': 0.1})
    with pytest.raises(ConfigError, match='no key'):  # string type: no signature to consult
        check_option_keys(cfg, {'model.backbone.depht': 2})
    with pytest.raises(ConfigError, match="list of 1 items; '3'"):
        check_option_keys(cfg, {'param_scheduler.3.end': 2})
    with pytest.raises(ConfigError, match='no key'):
        check_option_keys(cfg, {'train_dataloader.batchsize': 2})


@pytest.mark.parametrize('key, value, message', [
    ('train_dataloader.batch_size', 'two', "batch_size='two': expected a number, like the "
                                           "config's 2"),
    ('optim_wrapper.optimizer.lr', float('nan'), 'lr=nan: not a finite number'),
    ('model.roi_head.dropout', float('inf'), 'dropout=inf: not a finite number'),
    ('val_dataloader.dataset.layout', 'frames', None),  # a word for a word
    ('optim_wrapper.optimizer.lr', 3, None),            # an int for a float
    ('model.backbone.pretrained', 'ckpt.pth', None),    # the config has None: anything
    ('train_dataloader.batch_size', None, None),        # None is how options unset things
])
def test_option_values_must_fit_what_the_config_holds(config_file, key, value, message):
    cfg = Config.fromfile(str(config_file))
    cfg.merge_from_dict({'model.backbone.use_checkpoint': False,
                         'model.backbone.drop_path': [0.1, 0.2]})
    if message is None:
        check_option_values(cfg, {key: value})
    else:
        with pytest.raises(ConfigError, match=re.escape(f'--cfg-options {key.split(".")[0]}')
                           + '.*' + re.escape(message)):
            check_option_values(cfg, {key: value})
    with pytest.raises(ConfigError, match='expected True or False'):
        check_option_values(cfg, {'model.backbone.use_checkpoint': 'yes'})
    with pytest.raises(ConfigError, match='expected a list'):
        check_option_values(cfg, {'model.backbone.drop_path': 0.1})


def test_misspelt_import_is_reported_with_its_key(tmp_path, config_file):
    bad = tmp_path / 'bad.py'
    bad.write_text(config_file.read_text().replace('import AVARoIHead', 'import AVARoIHaed')
                   .replace('type=AVARoIHead', 'type=AVARoIHaed'))
    with pytest.raises(ConfigError, match='AVARoIHaed'):
        load_config(str(bad))
    with pytest.raises(ConfigError, match='config file not found'):
        load_config(str(tmp_path / 'none.py'))


def test_missing_data_lists_every_path_with_its_key(tmp_path, config_file):
    cfg = load_config(str(config_file))
    with pytest.raises(DataNotFoundError) as err:
        check_data_paths(cfg, ['train_dataloader', 'val_dataloader'])
    text = str(err.value)
    data = tmp_path / 'data'
    for path, key in [(data / 'annotations/train.json', 'train_dataloader.dataset.ann_file'),
                      (data / 'clips/trainval', 'train_dataloader.dataset.layout.dir'),
                      (data / 'frames', 'val_dataloader.dataset.layout.dir'),
                      (data / 'boxes/dets.json', 'val_dataloader.dataset.proposal_file'),
                      (data / 'annotations/labels.pbtxt', 'val_evaluator.label_map_file')]:
        assert f'{path}   ({key})' in text
    assert 'make_mini_ava.py' in text
    # once everything exists, nothing is raised
    for path in ['annotations/train.json', 'annotations/val.json', 'annotations/val.csv',
                 'annotations/labels.pbtxt', 'boxes/dets.json']:
        (data / path).parent.mkdir(parents=True, exist_ok=True)
        (data / path).write_text('')
    (data / 'clips/trainval').mkdir(parents=True)
    (data / 'frames').mkdir()
    check_data_paths(cfg, ['train_dataloader', 'val_dataloader'])


def test_missing_videomae_checkpoint_says_how_to_override(config_file):
    cfg = load_config(str(config_file), {'model.backbone.pretrained': 'ckpts/vmae.pth'})
    with pytest.raises(DataNotFoundError, match='model.backbone.pretrained=None'):
        check_pretrained(cfg)


def assert_builds_cpu_amp(cfg):
    """The config builds the bfloat16 wrapper and still dumps as Python text (what the
    Runner writes into the work dir and every checkpoint: a class object set after loading
    used to print as ``<class ...>`` and fail the dump)."""
    from mmengine.optim import build_optim_wrapper

    def built(optim_wrapper):
        # a plain layer: leave the layer-decay constructor (it needs a ViT) out
        plain = {k: v for k, v in optim_wrapper.items()
                 if k not in ('constructor', 'paramwise_cfg')}
        return type(build_optim_wrapper(torch.nn.Linear(2, 2), plain))

    assert built(cfg.optim_wrapper) is CPUAmpOptimWrapper
    dumped = Config.fromstring(cfg.pretty_text, '.py')  # what Config.dump + fromfile do
    assert built(dumped.optim_wrapper) is CPUAmpOptimWrapper


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path of --precision')
def test_bf16_keeps_a_lazy_import_config_dumpable():
    # the configs of the repository import their classes (mmengine's lazy-import style);
    # --precision bf16 on them failed at the Runner's config dump before it trained
    cfg = load_config(str(Path(__file__).resolve().parents[2]
                          / 'configs/mini_ava/vit_tiny.py'))
    assert set_training_precision(cfg, 'bf16') == 'bf16'
    assert_builds_cpu_amp(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path of --amp')
def test_amp_on_cpu_runs_the_forward_in_bfloat16(config_file):
    cfg = load_config(str(config_file))
    assert enable_amp(cfg) == 'bf16'  # what tools/train.py warns about on emulating CPUs
    assert_builds_cpu_amp(cfg)
    layer = torch.nn.Linear(4, 4)
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(layer.parameters(), lr=0.1))
    with wrapper.optim_context(layer):
        out = layer(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path of --precision')
@pytest.mark.parametrize('native', [True, False])
def test_training_precision_fp32_bf16_auto_on_cpu(config_file, monkeypatch, native):
    """fp32 leaves the optimizer wrapper alone; bf16 is the bfloat16 autocast wrapper;
    auto follows whether the CPU multiplies bfloat16 natively."""
    import videomae_det.utils.precision as precision
    monkeypatch.setattr(precision, 'native_bf16_cpu', lambda *a, **k: native)
    plain = load_config(str(config_file)).optim_wrapper.get('type')
    assert plain is not CPUAmpOptimWrapper
    cfg = load_config(str(config_file))
    assert set_training_precision(cfg, 'fp32') == 'fp32'
    assert cfg.optim_wrapper.get('type') is plain
    cfg = load_config(str(config_file))
    assert set_training_precision(cfg, 'bf16') == 'bf16'
    assert_builds_cpu_amp(cfg)
    cfg = load_config(str(config_file))
    expected = 'bf16' if native else 'fp32'
    assert set_training_precision(cfg, 'auto') == expected
    if native:
        assert_builds_cpu_amp(cfg)
    else:
        assert cfg.optim_wrapper.get('type') is plain
    with pytest.raises(ValueError, match='precision must be one of'):
        set_training_precision(load_config(str(config_file)), 'fp16')
