"""DetectorRunner: ``load_from`` is loaded safely and strictly (partial only on request)."""
import pytest
import torch
from mmengine.model import BaseModel
from torch import nn

from videomae_det.engine.runner import DetectorRunner
from videomae_det.models.weights import WeightsMismatchError


class _Net(BaseModel):
    def __init__(self, width=3):
        super().__init__()
        self.fc = nn.Linear(width, 2)
        self.head = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.head(self.fc(torch.stack(inputs)))
        if mode == 'loss':
            return dict(loss=(out ** 2).mean())
        return out


class _Points(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dict(inputs=torch.full((3,), float(i)))


def _train(tmp_path, load_from, partial=False):
    loader = dict(dataset=dict(type=_Points), batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False))
    model = _Net()
    runner = DetectorRunner(
        model=model, work_dir=str(tmp_path / 'work'), train_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=1), load_from=str(load_from),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)), default_scope=None,
        cfg=dict(partial_load=partial))
    runner.train()
    return model


def test_a_fitting_checkpoint_loads(tmp_path):
    source = _Net()
    torch.save({'state_dict': source.state_dict(), 'meta': {}}, tmp_path / 'ok.pth')
    model = _train(tmp_path, tmp_path / 'ok.pth')
    torch.testing.assert_close(model.fc.weight, source.fc.weight)  # lr 0: still the loaded one


def test_a_mismatched_load_from_stops_training_instead_of_random_init(tmp_path):
    other = _Net(width=5).state_dict()
    del other['head.bias']
    torch.save({'state_dict': other}, tmp_path / 'other.pth')
    with pytest.raises(WeightsMismatchError, match=r"(?s)other.pth.*'fc.weight' has shape "
                                                   r"\(2, 5\).*\(2, 3\).*missing \(1\): "
                                                   r"head.bias"):
        _train(tmp_path, tmp_path / 'other.pth')
    # partial loading is an explicit choice, and still never loads a wrong shape
    del other['fc.weight']
    torch.save({'state_dict': other}, tmp_path / 'partial.pth')
    model = _train(tmp_path, tmp_path / 'partial.pth', partial=True)
    torch.testing.assert_close(model.head.weight, other['head.weight'])


def test_load_from_never_runs_pickled_code(tmp_path):
    from videomae_det.models.weights import UnsafeCheckpointError

    class Exploit:
        def __reduce__(self):
            return (print, ('ran',))

    torch.save({'state_dict': _Net().state_dict(), 'x': Exploit()}, tmp_path / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth: refused'):
        _train(tmp_path, tmp_path / 'evil.pth')
