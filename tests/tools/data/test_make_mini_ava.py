"""make_mini_ava CLI: writes the layout, refuses a foreign non-empty directory."""


def test_cli(load_tool, tmp_path, capsys):
    tool = load_tool('make_mini_ava.py')
    out = tmp_path / 'mini'
    assert tool.main([str(out), '--size', 'tiny', '--seed', '1', '--workers', '1']) == 0
    assert (out / 'annotations/ava_val_v2.2_min.json').is_file()
    printed = capsys.readouterr().out
    assert 'mini-AVA (tiny, seed 1)' in printed and 'classes: ava (12)' in printed
    # re-generating over an earlier mini-AVA is allowed, here with a class set of its own
    assert tool.main([str(out), '--size', 'tiny', '--seed', '2', '--workers', '1',
                      '--classes', 'custom5']) == 0
    assert 'classes: custom5 (5)' in capsys.readouterr().out
    assert 'stroll' in (out / 'annotations/mini_ava_action_list.pbtxt').read_text()
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('x')
    assert tool.main([str(foreign), '--size', 'tiny']) == 2
    assert 'refusing' in capsys.readouterr().err and (foreign / 'keep.txt').exists()
