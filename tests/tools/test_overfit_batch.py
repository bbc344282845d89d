"""tools/overfit_batch.py: a plain PyTorch loop drives the loss of one batch down."""


def test_loss_of_one_batch_falls(in_mini_ava_workspace, mini_config, tiny_options, tool, capsys):
    code = tool('overfit_batch').main([mini_config, '--steps', '15', '--lr', '5e-3',
                                       '--cfg-options', *tiny_options])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith('step')]
    losses = [float(line.split()[-1]) for line in lines]
    assert len(losses) == 15
    assert code == 0 and losses[-1] < 0.5 * losses[0]
