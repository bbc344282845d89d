"""Fixtures for the training/testing tool tests: the tools as importable modules and a
working directory in which ``data/mini_ava`` is the tiny mini-AVA preset, so the real
configs run with their own default paths."""
import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MINI_CONFIG = str(REPO / 'configs' / 'mini_ava' / 'vit_tiny.py')

# shrinks configs/mini_ava/vit_tiny.py to a 1-block D=32 ViT that trains in seconds, single
# process, no loader workers (so runs are bit-reproducible)
TINY_MODEL_OPTIONS = [
    'model.backbone.embed_dim=32', 'model.backbone.depth=1', 'model.backbone.num_heads=2',
    'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
    'val_dataloader.batch_size=4', 'val_dataloader.num_workers=0',
    'test_dataloader.num_workers=0', 'default_hooks.logger.interval=1',
]


@pytest.fixture(scope='session')
def tool():
    """``tool('train')`` imports ``tools/train.py`` as a module (its ``main(argv)`` is the tool)."""
    def load(name: str):
        path = REPO / 'tools' / f'{name}.py'
        spec = importlib.util.spec_from_file_location(f'tools_{name}', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture
def mini_config() -> str:
    """Path of configs/mini_ava/vit_tiny.py."""
    return MINI_CONFIG


@pytest.fixture
def tiny_options():
    return list(TINY_MODEL_OPTIONS)


@pytest.fixture(scope='session')
def tiny_mini_ava(tmp_path_factory) -> Path:
    """The ``tiny`` mini-AVA preset (2 train movies, 1 val movie of 8 s)."""
    from videomae_det.datasets.mini_ava import generate_mini_ava
    root = tmp_path_factory.mktemp('mini_ava_tiny')
    generate_mini_ava(root, seed=0, size='tiny', workers=1)
    return root


@pytest.fixture
def in_mini_ava_workspace(tmp_path, tiny_mini_ava, monkeypatch) -> Path:
    """cwd = a fresh folder whose ``data/mini_ava`` is the tiny preset; returns the folder."""
    (tmp_path / 'data').mkdir()
    os.symlink(tiny_mini_ava, tmp_path / 'data' / 'mini_ava')
    monkeypatch.chdir(tmp_path)
    return tmp_path
