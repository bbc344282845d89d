"""The weights package stands alone: it imports nothing from the rest of models, and
no other module carries its own checkpoint loader."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WEIGHTS = ROOT / 'videomae_det' / 'models' / 'weights'


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            yield ('.' * node.level) + (node.module or '')
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_weights_imports_nothing_from_the_rest_of_models():
    files = sorted(WEIGHTS.glob('*.py'))
    assert files
    for path in files:
        for name in _imports(path):
            assert not name.startswith('videomae_det'), f'{path.name} imports {name}'
            assert not name.startswith('..'), f'{path.name} imports {name}'


def test_no_other_module_calls_torch_load_or_keeps_a_converter():
    """Reading weight files is the weights package's job (safe loading in one place)."""
    offenders = []
    for path in (ROOT / 'videomae_det').rglob('*.py'):
        if WEIGHTS in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                    node.func.attr == 'load_state_dict' or ast.unparse(node.func) == 'torch.load'):
                offenders.append(f'{path.name}:{node.lineno} {ast.unparse(node.func)}')
            elif isinstance(node, ast.FunctionDef) and node.name.startswith('convert_'):
                offenders.append(f'{path.name}:{node.lineno} def {node.name}')
    assert not (ROOT / 'videomae_det' / 'models' / 'checkpoint.py').exists()
    assert offenders == []
