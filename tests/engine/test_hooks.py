"""SafeCheckpointHook: atomic checkpoint files that load with weights_only=True and resume."""
import errno
import itertools
import os

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from videomae_det.engine.hooks import AtomicLocalBackend, SafeCheckpointHook, from_plain, to_plain


class _Regressor(BaseModel):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1)
        self.dropout = nn.Dropout(0.5)  # draws from torch's generator while training

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(self.dropout(torch.stack(inputs)))
        if mode == 'loss':
            return dict(loss=((out - 1) ** 2).mean())
        return [dict(value=float(v)) for v in out]


class _Points(torch.utils.data.Dataset):
    metainfo = dict(classes=np.array(['a', 'b']))  # numpy in the meta, as datasets may have

    def __init__(self):
        self.x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        # an augmentation drawing from numpy's global generator, as pipelines do
        return dict(inputs=self.x[i] * float(np.random.uniform(0.5, 1.5)))


class _MeanMetric(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.extend(d['value'] for d in data_samples)

    def compute_metrics(self, results):
        return dict(mAP=np.float64(np.mean(results)))  # a numpy scalar, as metrics return


_RUN_IDS = itertools.count()


def _runner(work_dir, max_epochs, resume=False):
    loader = dict(dataset=dict(type=_Points), batch_size=4, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=True))
    torch.manual_seed(0)  # the model is built here, before the Runner seeds
    return Runner(
        model=_Regressor(), work_dir=str(work_dir), train_dataloader=loader,
        val_dataloader=loader, val_evaluator=dict(type=_MeanMetric, prefix='ava'),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1), val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type=SafeCheckpointHook, interval=1,
                                           save_best='ava/mAP', rule='greater')),
        randomness=dict(seed=0), resume=resume, default_scope=None,
        # runners built in the same second would otherwise share one MessageHub (named by
        # the timestamp), and a best score would leak from one test into the next
        experiment_name=f'hooks_test_{next(_RUN_IDS)}')


def test_plain_roundtrip_of_message_hub_values():
    buf = HistoryBuffer([1.5, 2.5], [1, 2], max_length=10)
    state = dict(log_scalars={'train/loss': buf}, runtime_info=dict(eta=np.float64(3.0),
                                                                    ids=np.array([1, 2])))
    plain = to_plain(state)
    assert plain['runtime_info'] == dict(eta=3.0, ids=[1, 2])
    assert type(plain['runtime_info']['eta']) is float
    back = from_plain(plain)
    log, count = back['log_scalars']['train/loss'].data
    np.testing.assert_array_equal(log, [1.5, 2.5])
    np.testing.assert_array_equal(count, [1, 2])
    assert back['log_scalars']['train/loss'].max_length == 10


def test_checkpoints_load_weights_only_and_resume(tmp_path):
    _runner(tmp_path, max_epochs=2).train()
    files = sorted(p.name for p in tmp_path.glob('*.pth'))
    assert 'epoch_2.pth' in files and any(f.startswith('best_ava_mAP') for f in files)
    ckpt = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)  # no allow-list needed
    assert ckpt['meta']['epoch'] == 2
    # a stock mmengine checkpoint would fail here; ours resumes and continues to epoch 3
    runner = _runner(tmp_path, max_epochs=3, resume=True)
    runner.train()
    assert runner.epoch == 3
    hist = runner.message_hub.get_scalar('train/loss')
    assert isinstance(hist, HistoryBuffer) and len(hist.data[0]) == 6  # 2 iters × 3 epochs


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(tmp_path):
    straight = _runner(tmp_path / 'straight', max_epochs=3)
    straight.train()
    _runner(tmp_path / 'split', max_epochs=2).train()
    resumed = _runner(tmp_path / 'split', max_epochs=3, resume=True)
    resumed.train()
    for (name, a), b in zip(straight.model.state_dict().items(),
                            resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    # and a resume without the RNG states would not: the check above can fail
    other = _runner(tmp_path / 'other', max_epochs=3)
    np.random.seed(123)
    other.train()
    assert not torch.equal(other.model.fc.weight, straight.model.fc.weight)


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_1.pth'
    backend = AtomicLocalBackend()
    backend.put(b'good checkpoint', path)

    def disk_full(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', disk_full)
    with pytest.raises(OSError, match='No space'):
        backend.put(b'half a chec', path)
    assert path.read_bytes() == b'good checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_1.pth']  # no temp file left


def test_hook_defaults_to_atomic_backend(tmp_path):
    hook = SafeCheckpointHook(interval=1, out_dir=str(tmp_path))
    assert hook.backend_args == dict(backend='atomic_local')


def test_last_checkpoint_is_relative_and_a_copied_work_dir_resumes_from_its_own_files(tmp_path):
    import shutil
    original = tmp_path / 'original'
    _runner(original, max_epochs=2).train()
    assert (original / 'last_checkpoint').read_text() == 'epoch_2.pth'
    copy = tmp_path / 'copy'
    shutil.copytree(original, copy)
    before = {p.name: p.read_bytes() for p in original.glob('*.pth')}
    shutil.rmtree(original / 'vis_data', ignore_errors=True)
    (original / 'epoch_2.pth').rename(original / 'moved_away.pth')  # the copy must not need it
    runner = _runner(copy, max_epochs=3, resume=True)
    runner.train()
    assert runner.epoch == 3 and (copy / 'epoch_3.pth').is_file()
    # the original folder is untouched: its best was not "replaced" by the copy's run
    after = {p.name: p.read_bytes() for p in original.glob('*.pth')}
    assert after.pop('moved_away.pth') == before.pop('epoch_2.pth') and after == before


def test_one_best_checkpoint_after_resume(tmp_path):
    _runner(tmp_path, max_epochs=2).train()
    (best,) = tmp_path.glob('best_ava_mAP_epoch_*.pth')
    stored = torch.load(best, weights_only=True)['message_hub']['runtime_info']['best_score']
    # leftovers a killed run can leave: an older best never removed, and a best of a later
    # epoch of the run being replaced (resuming from an earlier checkpoint)
    import shutil
    shutil.copy(best, tmp_path / 'best_ava_mAP_epoch_0.pth')
    shutil.copy(best, tmp_path / 'best_ava_mAP_epoch_7.pth')
    runner = _runner(tmp_path, max_epochs=2, resume=True)
    runner.train()  # nothing left to train: the reconciled state is what resume gives
    assert [p.name for p in tmp_path.glob('best_*.pth')] == [best.name]
    assert runner.message_hub.get_info('best_score') == pytest.approx(stored)
    runner = _runner(tmp_path, max_epochs=4, resume=True)
    runner.train()
    assert len(list(tmp_path.glob('best_*.pth'))) == 1
