"""Reading the config text a training checkpoint keeps (``meta['cfg']``) as data only.

mmengine writes ``Config.pretty_text`` there: a Python file of plain assignments
(``model = dict(type='...', depth=12)``). Building the model from a downloaded file must
not run code that file carries, so the text is never executed: it is parsed with
:mod:`ast` and only literals are accepted -- numbers, strings, ``None``/``True``/``False``,
lists, tuples, sets, dicts and ``dict(key=value, ...)`` calls of them, with unary ``-``/``+``.
Anything else (imports, other calls, attribute access, comprehensions, ...) is refused
with the line it is on.
"""
import ast
from typing import Any, Dict


class ConfigTextError(ValueError):
    """The stored config text is not plain data."""


def _value(node: ast.AST, where: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_value(e, where) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ConfigTextError(f'{where}, line {node.lineno}: ** unpacking is not plain data')
        return {_value(k, where): _value(v, where) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id == 'dict' and not node.args \
            and all(kw.arg is not None for kw in node.keywords):
        return {kw.arg: _value(kw.value, where) for kw in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand, where)
        if isinstance(operand, (int, float, complex)) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else +operand
    raise ConfigTextError(
        f'{where}, line {getattr(node, "lineno", "?")}: {ast.unparse(node)[:80]!r} is not '
        f'plain data (only literals and dict(...) are read; stored configs are never run)')


def parse_config_text(text: str, where: str = 'stored config') -> Dict[str, Any]:
    """Config text of plain ``name = literal`` assignments -> ``{name: value}``.

    Raises:
        ConfigTextError: a statement or value that is not plain data (names ``where``
            and the line); nothing in ``text`` is executed.
    """
    try:
        tree = ast.parse(text, mode='exec')
    except SyntaxError as e:
        raise ConfigTextError(f'{where}: not Python config text ({e.msg}, line {e.lineno})') \
            from None
    out: Dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], ast.Name):
            out[stmt.targets[0].id] = _value(stmt.value, where)
        else:
            raise ConfigTextError(
                f'{where}, line {stmt.lineno}: {ast.unparse(stmt)[:80]!r} is not a plain '
                f'`name = value` assignment (stored configs are read as data, never run)')
    return out
