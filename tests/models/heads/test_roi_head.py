"""RoI math of the action head: the box decides which features are pooled."""
import pytest
import torch

from videomae_det.models.heads import AVARoIHead


def _bright_map(batch=2, dim=4, t=2, h=8, w=8, bright=5.0):
    """(B, D, T, H, W) zeros, with sample 1 bright (value ``bright``) on cells y 2..3, x 4..6."""
    feat = torch.zeros(batch, dim, t, h, w)
    feat[1, :, :, 2:4, 4:7] = bright
    return feat


def test_box_over_bright_region_pools_bright_value():
    head = AVARoIHead(in_channels=4, num_classes=3, spatial_scale=1 / 16, dropout=0.)
    feat = _bright_map()
    # cells x 4..6, y 2..3 at stride 16 -> pixels x 64..112, y 32..64
    rois = torch.tensor([[1, 64., 32., 112., 64.],    # on the bright block of sample 1
                         [0, 64., 32., 112., 64.],    # same box, sample 0 (all zero)
                         [1, 0., 80., 48., 128.]])    # sample 1, far from the block
    pooled = head.pool(feat, rois)
    assert pooled.shape == (3, 4)
    torch.testing.assert_close(pooled[0], torch.full((4,), 5.0))
    torch.testing.assert_close(pooled[1], torch.zeros(4))
    torch.testing.assert_close(pooled[2], torch.zeros(4))


def test_time_is_averaged_before_pooling():
    head = AVARoIHead(in_channels=1, num_classes=2, spatial_scale=1 / 16, dropout=0.)
    feat = torch.zeros(1, 1, 4, 4, 4)
    feat[0, 0, 0] = 8.0  # only the first of 4 temporal slices is bright
    pooled = head.pool(feat, torch.tensor([[0, 0., 0., 64., 64.]]))
    torch.testing.assert_close(pooled, torch.full((1, 1), 2.0))


def test_forward_shapes_and_empty_rois_keep_graph():
    head = AVARoIHead(in_channels=8, num_classes=80, spatial_scale=1 / 16)
    feat = torch.randn(2, 8, 2, 4, 4, requires_grad=True)
    logits = head(feat, torch.tensor([[0, 1., 2., 30., 40.], [1, 0., 0., 64., 64.]]))
    assert logits.shape == (2, 80)
    empty = head(feat, torch.zeros(0, 5))
    assert empty.shape == (0, 80)
    losses = head.loss(empty, torch.zeros(0, 80))
    assert losses['loss_action'].item() == 0.0
    losses['loss_action'].backward()
    # every parameter gets a (zero) gradient: DDP's reduction stays in step
    assert head.fc_cls.weight.grad is not None and feat.grad is not None
    assert head.fc_cls.weight.grad.abs().sum() == 0


def test_bce_loss_matches_definition():
    head = AVARoIHead(in_channels=2, num_classes=3, spatial_scale=1 / 16)
    logits = torch.tensor([[2.0, -1.0, 0.5], [-3.0, 0.0, 1.0]])
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    expected = -(labels * torch.log(torch.sigmoid(logits)) +
                 (1 - labels) * torch.log(1 - torch.sigmoid(logits))).mean()
    losses = head.loss(logits, labels)
    torch.testing.assert_close(losses['loss_action'], expected)
    # predicted positives (logit > 0): (0,0) TP, (0,2) TP, (1,2) FP; positives 3
    torch.testing.assert_close(losses['recall@thr0.5'], torch.tensor(2 / 3))
    torch.testing.assert_close(losses['prec@thr0.5'], torch.tensor(2 / 3))


def test_bad_shapes_are_named():
    head = AVARoIHead(in_channels=2, num_classes=3, spatial_scale=1 / 16)
    with pytest.raises(ValueError, match='rois'):
        head.pool(torch.zeros(1, 2, 2, 4, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match='gt_labels'):
        head.loss(torch.zeros(2, 3), torch.zeros(2, 4))
