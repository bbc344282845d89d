import importlib.util
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[3] / 'tools' / 'data'


@pytest.fixture(scope='session')
def load_tool():
    """Import a script under tools/data by relative path, e.g. ``load_tool('ava/cut_clips.py')``."""
    def load(relpath):
        path = TOOLS / relpath
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # worker processes unpickle its functions by name
        spec.loader.exec_module(module)
        return module
    return load
