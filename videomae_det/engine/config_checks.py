"""Config loading and pre-flight checks shared by ``tools/train.py`` and ``tools/test.py``.

Everything here runs before the model is built, so that a typo in ``--cfg-options`` or a
dataset that is not in place stops the tool at once with one message, instead of a
traceback minutes later.
"""
import difflib
import inspect
import math
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper

from videomae_det.engine.amp import CPUAmpOptimWrapper

DATA_HELP = (
    'Put the data where the config says (data_root) or point the config elsewhere with '
    "--cfg-options, following docs/data.md:\n"
    '  - AVA v2.2: data/ava/{clips,annotations,boxes} from the official downloads with\n'
    '    tools/data/ava/cut_clips.py (1-second clips), csv_to_min_json.py (annotations),\n'
    '    dets_to_json.py (person boxes), then python tools/check_data.py CONFIG\n'
    '  - mini-AVA (synthetic, minutes on a CPU): python tools/data/make_mini_ava.py data/mini_ava')


class ConfigError(ValueError):
    """A config file or option that cannot be used; the message says which and why."""


class DataNotFoundError(FileNotFoundError):
    """Data paths named by the config are missing; the message lists them and how to fix."""


def load_config(path: str, cfg_options: Optional[Dict] = None) -> Config:
    """Read a config file and merge ``--cfg-options`` (``{'a.b': value}``) into it.

    Raises :class:`ConfigError` for a missing/broken file, an option key that is
    neither in the config nor an argument of the class the enclosing dict builds, or an
    option value of the wrong kind (:func:`check_option_values`).
    """
    if not osp.isfile(path):
        raise ConfigError(f'config file not found: {path}')
    try:
        cfg = Config.fromfile(path)
    except (ImportError, SyntaxError, NameError, AttributeError, KeyError) as err:
        raise ConfigError(f'cannot read config {path}: {type(err).__name__}: {err}') from err
    if cfg_options:
        check_option_keys(cfg, cfg_options)
        check_option_values(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    resolve_types(cfg)
    return cfg


def resolve_types(cfg: Config) -> None:
    """Import every class a lazy-import config names, now rather than mid-build.

    ``Config.fromfile`` keeps ``from x import Y`` of a pure-Python config as a lazy object
    that is imported when the entry is read; reading every entry here turns a misspelt
    class or module into one :class:`ConfigError` naming the config key.
    """
    def visit(node, where):
        keys = list(node.keys()) if isinstance(node, dict) else (
            range(len(node)) if isinstance(node, (list, tuple)) else ())
        for key in keys:
            path = f'{where}.{key}' if where else str(key)
            try:
                value = node[key]  # ConfigDict builds lazy objects on item access
            except (ImportError, AttributeError) as err:
                raise ConfigError(f'config key {path}: cannot import its class: {err}') from err
            visit(value, path)

    visit(cfg._cfg_dict, '')


def _arguments(obj_type) -> Tuple[List[str], bool]:
    """Keyword arguments of the class (or function) ``obj_type`` and whether it takes
    ``**kwargs``; nothing for a string type (a registry name has no signature to read)."""
    if isinstance(obj_type, str) or obj_type is None:
        return [], False
    try:
        params = inspect.signature(obj_type).parameters
    except (TypeError, ValueError):
        return [], False
    return list(params), any(p.kind == p.VAR_KEYWORD for p in params.values())


def check_option_keys(cfg: Config, cfg_options: Dict) -> None:
    """Reject ``--cfg-options`` keys that would silently add an unused setting.

    A key ``a.b.c`` is accepted when ``a.b`` exists and either already holds ``c`` or
    builds a class (its ``type``) whose constructor takes ``c``. List items are addressed
    by index (``train_dataloader.dataset.pipeline.0.scale``) as mmengine does.
    """
    for dotted in cfg_options:
        node = cfg._cfg_dict if isinstance(cfg, Config) else cfg
        parts = dotted.split('.')
        for depth, part in enumerate(parts):
            where = '.'.join(parts[:depth]) or '<config root>'
            is_last = depth == len(parts) - 1
            if isinstance(node, (list, tuple)):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(
                        f'--cfg-options {dotted}: {where} is a list of {len(node)} items; '
                        f'{part!r} is not a valid index')
                node = node[int(part)]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f'--cfg-options {dotted}: {where} is not a dict')
            if part in node:
                node = node[part]
                continue
            arguments, any_keyword = _arguments(node.get('type'))
            if is_last and depth > 0 and (part in arguments or any_keyword):
                break
            close = difflib.get_close_matches(part, [str(k) for k in node] + arguments, n=3)
            hint = f' (did you mean {", ".join(close)}?)' if close else ''
            raise ConfigError(f'--cfg-options {dotted}: {where} has no key {part!r}{hint}')


def _lookup(cfg: Config, dotted: str):
    """(True, value) of the config entry ``a.b.0.c``, or (False, None) if it is not there."""
    node = cfg._cfg_dict if isinstance(cfg, Config) else cfg
    for part in dotted.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def check_option_values(cfg: Config, cfg_options: Dict) -> None:
    """Reject ``--cfg-options`` values that cannot be what the config holds there: a word
    where the config has a number (``batch_size=two`` would fail minutes later, deep in the
    data loader), a non-boolean for a boolean, a single value for a list, and nan/inf."""
    for dotted, new in cfg_options.items():
        if isinstance(new, float) and not math.isfinite(new):
            raise ConfigError(f'--cfg-options {dotted}={new}: not a finite number')
        found, old = _lookup(cfg, dotted)
        if not found or old is None or new is None:
            continue
        if isinstance(old, bool):
            if not isinstance(new, bool):
                raise ConfigError(f'--cfg-options {dotted}={new!r}: expected True or False '
                                  f'(the config has {old})')
        elif isinstance(old, (int, float)):
            if isinstance(new, bool) or not isinstance(new, (int, float)):
                raise ConfigError(f"--cfg-options {dotted}={new!r}: expected a number, like "
                                  f"the config's {old!r}")
        elif isinstance(old, (list, tuple)) and not isinstance(new, (list, tuple)):
            raise ConfigError(f"--cfg-options {dotted}={new!r}: expected a list, like the "
                              f"config's {old!r} (write a=1,2 or a='[1,2]')")


def enable_amp(cfg: Config) -> str:
    """Switch the optimizer wrapper to mixed precision: float16 with a dynamic loss scale
    on CUDA (mmengine's ``AmpOptimWrapper``), bfloat16 autocast on a CPU-only machine.
    Returns the autocast precision: ``'fp16'`` or ``'bf16'``."""
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = _registry_name(AmpOptimWrapper)
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        return 'fp16'
    cfg.optim_wrapper.type = _registry_name(CPUAmpOptimWrapper)
    return 'bf16'


def _registry_name(cls: type) -> str:
    """The name ``cls`` is registered under in mmengine's ``OPTIM_WRAPPERS``.

    A config is dumped as Python text into the work dir (and into every checkpoint); the
    lazy-import configs print their classes as import paths, but a class object set after
    loading prints as ``<class ...>``, which is not Python and makes the dump fail. The
    registry name prints as a string and builds the same class.
    """
    from mmengine.registry import OPTIM_WRAPPERS
    if OPTIM_WRAPPERS.get(cls.__name__) is not cls:
        raise RuntimeError(f'{cls.__name__} is not registered in OPTIM_WRAPPERS')
    return cls.__name__


def set_training_precision(cfg: Config, precision: str) -> str:
    """``tools/train.py --precision``: ``fp32`` leaves the config as it is; ``bf16`` runs
    the forward under bfloat16 autocast (mmengine's ``AmpOptimWrapper`` with
    ``dtype='bfloat16'`` on CUDA, :class:`CPUAmpOptimWrapper` on a CPU-only machine;
    bfloat16 needs no loss scale); ``auto`` is bf16 where the device multiplies bfloat16
    natively (:func:`videomae_det.utils.precision.resolve_precision`), else fp32.
    Returns the precision used."""
    from videomae_det.utils.precision import default_device, resolve_precision
    device = default_device()
    used = resolve_precision(precision, device)
    if used == 'bf16':
        if device == 'cuda':
            cfg.optim_wrapper.type = _registry_name(AmpOptimWrapper)
            cfg.optim_wrapper.dtype = 'bfloat16'
            cfg.optim_wrapper.pop('loss_scale', None)
        else:
            cfg.optim_wrapper.type = _registry_name(CPUAmpOptimWrapper)
    return used


def _resolve(root: Optional[str], path: str) -> str:
    # mmengine's BaseDataset joins a relative ann_file with data_root; do the same
    return path if osp.isabs(path) or not root else osp.join(root, path)




def _dataset_arg(dataset, name: str):
    """``dataset[name]``, else the default of that argument in the dataset class."""
    if name in dataset:
        return dataset[name]
    obj_type = dataset.get('type')
    if isinstance(obj_type, str) or obj_type is None:
        return None
    try:
        param = inspect.signature(obj_type).parameters.get(name)
    except (TypeError, ValueError):
        return None
    return None if param is None or param.default is param.empty else param.default


def data_paths(cfg: Config, loaders: Sequence[str]) -> List[Tuple[str, str]]:
    """(config key, file system path) of every input the named dataloaders and their
    evaluators read: the dataset's ``ann_file``, ``proposal_file``, ``movie_list`` and video
    folder (``layout.dir``, or ``data_prefix``),
    and the metric's ``ann_file``/``label_map_file``/``exclude_file``.
    """
    found = []
    label_map = cfg.get('model', {}).get('label_map')
    if isinstance(label_map, str):
        found.append(('model.label_map', label_map))
    for loader in loaders:
        if cfg.get(loader) is None:
            continue
        dataset = cfg[loader]['dataset']
        root = dataset.get('data_root')
        key = f'{loader}.dataset'
        if isinstance(dataset.get('label_map'), str):
            found.append((f'{key}.label_map', dataset['label_map']))
        for name in ('ann_file', 'proposal_file', 'movie_list'):
            if dataset.get(name):
                found.append((f'{key}.{name}', _resolve(root, dataset[name])))
        prefix = dataset.get('data_prefix')
        folder_key = 'data_prefix'
        folder = prefix.get('video') if isinstance(prefix, dict) else prefix
        layout = _dataset_arg(dataset, 'layout')
        if not folder and layout is not None:
            from videomae_det.datasets.layouts import layout_dir
            folder_key = 'layout.dir'
            try:  # a malformed layout is the dataset's to report, with its own message
                folder = layout_dir(layout.to_dict() if hasattr(layout, 'to_dict') else layout)
            except ValueError:
                folder = None
        if folder:
            found.append((f'{key}.{folder_key}', _resolve(root, folder)))
        elif root:
            found.append((f'{key}.data_root', root))
        evaluator_key = loader.replace('dataloader', 'evaluator')
        evaluators = cfg.get(evaluator_key) or []
        for metric in evaluators if isinstance(evaluators, list) else [evaluators]:
            for name in ('ann_file', 'label_map_file', 'exclude_file'):
                if metric.get(name):
                    found.append((f'{evaluator_key}.{name}', metric[name]))
    return found


def check_class_sets(cfg: Config, loaders: Iterable[str]) -> None:
    """The classes agree end to end: every named dataloader's dataset has the model's class
    set (``label_map``; None = AVA's 80 actions), and every evaluator scores only classes
    the model predicts. Raises :class:`ConfigError` naming the keys that disagree.

    Label map files are read here (a missing one is reported by
    :func:`check_data_paths`, which runs first).
    """
    from videomae_det.action_classes import ActionClasses
    from videomae_det.formats import AVAFormatError

    def classes(spec, key):
        try:
            return ActionClasses.resolve(spec)
        except (AVAFormatError, ValueError, TypeError) as err:
            raise ConfigError(f'{key}: {err}') from err

    model_spec = cfg.model.get('label_map')
    model = classes(model_spec, 'model.label_map')
    for loader in loaders:
        if cfg.get(loader) is None:
            continue
        dataset = cfg[loader]['dataset']
        ds_type = dataset.get('type')
        has_classes = 'label_map' in dataset or (
            isinstance(ds_type, type) and 'label_map' in inspect.signature(ds_type).parameters)
        if not has_classes:
            continue  # a dataset without action classes (e.g. unlabeled clips)
        key = f'{loader}.dataset.label_map'
        data = classes(dataset.get('label_map'), key)
        if data.ids != model.ids:
            raise ConfigError(
                f'{key} ({data.source}: {len(data)} classes) and model.label_map '
                f'({model.source}: {len(model)} classes) differ: the head would be trained '
                f'or read against other classes. Give both the same label map.')
        evaluator_key = loader.replace('dataloader', 'evaluator')
        evaluators = cfg.get(evaluator_key) or []
        for metric in evaluators if isinstance(evaluators, list) else [evaluators]:
            path = metric.get('label_map_file')
            if not path or not osp.isfile(path):
                continue
            scored = classes(path, f'{evaluator_key}.label_map_file')
            extra = [i for i in scored.ids if i not in model]
            if extra:
                raise ConfigError(
                    f'{evaluator_key}.label_map_file ({path}) scores action id(s) '
                    f'{extra[:10]} that the model does not predict (model.label_map: '
                    f'{model.source}). Evaluate with a label map of the model\'s classes.')


def check_data_paths(cfg: Config, loaders: Iterable[str]) -> None:
    """Raise :class:`DataNotFoundError` naming every missing input of ``loaders``."""
    missing = [(k, p) for k, p in data_paths(cfg, list(loaders)) if not osp.exists(p)]
    if missing:
        lines = '\n'.join(f'  {p}   ({k})' for k, p in missing)
        raise DataNotFoundError(f'data not found:\n{lines}\n{DATA_HELP}')


def check_pretrained(cfg: Config) -> None:
    """The VideoMAE checkpoint the backbone starts from (``model.backbone.pretrained``) and
    the detector a class-set warm start copies (``model.warm_start``)."""
    warm = cfg.model.get('warm_start')
    warm_path = warm.get('checkpoint') if isinstance(warm, dict) else warm
    if isinstance(warm_path, str) and not osp.isfile(warm_path):
        raise DataNotFoundError(
            f'detector checkpoint to warm-start from not found: {warm_path}   '
            '(model.warm_start)')
    path = cfg.model.get('backbone', {}).get('pretrained')
    if path and not osp.isfile(path):
        raise DataNotFoundError(
            f'VideoMAE checkpoint not found: {path}   (model.backbone.pretrained)\n'
            'Download a VideoMAE checkpoint (official pretrain or K400 fine-tuned, HuggingFace '
            "or ours; docs/checkpoints.md) to that path, point the config at it "
            'with --cfg-options model.backbone.pretrained=PATH, or train from scratch with '
            '--cfg-options model.backbone.pretrained=None')

