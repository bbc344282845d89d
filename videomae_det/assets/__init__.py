"""Files shipped with the package."""
import hashlib
import json
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
# The official 60-class AVA label map (same classes for v2.1 and v2.2).
AVA_LABEL_MAP = ASSETS_DIR / 'ava_action_list_v2.2_for_activitynet_2019.pbtxt'
# The mini encoder: VideoMAE pretraining of the mini detector's backbone on mini-Kinetics
# (the whole pretraining model, encoder and decoder), and its record: sha256, size, the
# commands that re-make it and what it measured (docs/pretraining.md).
MINI_MAE = ASSETS_DIR / 'mini_mae_kinetics.safetensors'
MINI_MAE_RECORD = ASSETS_DIR / 'mini_mae_kinetics.json'


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def shipped_mini_mae(path: Path = MINI_MAE, record: Path = MINI_MAE_RECORD) -> Path:
    """The shipped mini encoder, after checking it against its record's sha256.

    Raises:
        FileNotFoundError: the weights or the record is missing (names which).
        ValueError: the weights' hash differs from the record's: the file is damaged or was
            replaced; the message names both hashes and the command that re-makes it.
    """
    if not record.is_file():
        raise FileNotFoundError(f'{record} is missing: the record of the shipped mini encoder')
    expected = json.loads(record.read_text())
    if not path.is_file():
        raise FileNotFoundError(f'{path} is missing (the shipped mini encoder); re-make it '
                                f'with: {"; ".join(expected.get("commands", []))}')
    actual = sha256_of(path)
    if actual != expected['sha256']:
        raise ValueError(f'{path}: sha256 {actual} differs from {expected["sha256"]} recorded '
                         f'in {record.name}: the file is damaged or was replaced; re-make it '
                         f'with: {"; ".join(expected.get("commands", []))}')
    return path
