"""Stored config text is read as data: literals and dict(...) only, never executed."""
import pytest
from mmengine.config import Config

from videomae_det.models.weights import ConfigTextError, parse_config_text


def test_pretty_text_of_a_real_config_round_trips():
    cfg = Config.fromfile('configs/mini_ava/vit_tiny.py')
    parsed = parse_config_text(cfg.pretty_text)
    assert parsed['model'] == cfg.to_dict()['model']
    assert parsed['train_cfg'] == cfg.to_dict()['train_cfg']


def test_literals_negatives_and_nesting():
    text = "a = dict(b=[1, -2.5, (3, None)], c={'k': True}, d=-1e-6)\ne = 'x'\n"
    assert parse_config_text(text) == dict(a=dict(b=[1, -2.5, (3, None)], c={'k': True},
                                                  d=-1e-6), e='x')


@pytest.mark.parametrize('text, what', [
    ('import os\n', 'import os'),
    ("a = __import__('os').system('true')\n", '__import__'),
    ("a = dict(b=open('f', 'w'))\n", "open('f', 'w')"),
    ('a = [x for x in range(3)]\n', 'for x in'),
    ('a = b\n', "'b'"),
    ('a = dict(**b)\n', 'dict(**b)'),
    ('a.b = 1\n', 'a.b = 1'),
    ('a = -"s"\n', "-'s'"),
    ('def f():\n    pass\n', 'def f'),
])
def test_anything_but_plain_data_is_refused_with_its_line(text, what):
    with pytest.raises(ConfigTextError, match='line 1') as info:
        parse_config_text(text, where='ckpt.pth')
    assert 'ckpt.pth' in str(info.value) and what in str(info.value)


def test_syntax_errors_name_the_source():
    with pytest.raises(ConfigTextError, match=r'ckpt.pth: not Python config text'):
        parse_config_text('a = (', where='ckpt.pth')
