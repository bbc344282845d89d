"""AVADetector on tiny random clips: shapes, loss, predictions, variable box counts."""
import pytest
import torch

from videomae_det.models.backbones.vit import VisionTransformer
from videomae_det.models.data_preprocessor import ActionDataPreprocessor
from videomae_det.models.detectors import AVADetector
from videomae_det.models.heads import AVARoIHead
from videomae_det.structures import ActionDataSample


def tiny_detector(detector_kw=None, **head_kw):
    torch.manual_seed(0)
    return AVADetector(
        backbone=dict(type=VisionTransformer, num_frames=4, img_size=64, embed_dim=16,
                      depth=1, num_heads=2),
        roi_head=dict(type=AVARoIHead, **head_kw), **(detector_kw or {}))  # AVA: 80 classes


def sample(boxes, labels=(), scores=None, rois=None, img_shape=(64, 96)):
    s = ActionDataSample(metainfo=dict(movie='m', timestamp=902, img_shape=img_shape,
                                       ori_shape=img_shape))
    s.proposals = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    gt = torch.zeros(len(s.proposals), 80)
    for row, ids in enumerate(labels):
        gt[row, [i - 1 for i in ids]] = 1
    s.gt_labels = gt
    s.proposal_scores = (torch.ones(len(s.proposals)) if scores is None else
                         torch.tensor(scores, dtype=torch.float32))
    if rois is not None:
        s.rois = torch.tensor(rois, dtype=torch.float32).reshape(-1, 4)
    return s


def clips(batch=2, h=64, w=96):
    return torch.randn(batch, 3, 4, h, w)


def test_feature_map_and_tensor_mode_shapes():
    det = tiny_detector()
    x = clips()
    assert det.extract_feat(x).shape == (2, 16, 2, 4, 6)
    samples = [sample([[0, 0, 30, 40], [10, 5, 60, 60]]), sample([[5, 5, 90, 60]])]
    logits = det(x, samples, mode='tensor')
    assert logits.shape == (3, 80)


def test_rois_prefer_rois_over_proposals():
    samples = [sample([[0, 0, 10, 10]], rois=[[1, 2, 3, 4]]), sample([[5, 6, 7, 8]])]
    rois = tiny_detector().rois_of(samples)
    torch.testing.assert_close(rois, torch.tensor([[0., 1, 2, 3, 4], [1., 5, 6, 7, 8]]))


def test_inclusive_convention_and_in_model_widening():
    """VideoMAE-Action-Detection's boxes: x2 = x + w - 1 in stored-frame pixels (clamped to
    the frame), scaled to the input, then widened with +1 widths and clipped to W - 1."""
    det = tiny_detector(dict(box_convention='inclusive', test_widen=(0.1, 0.05))).eval()
    # input 64x96 resized from a 32x48 stored frame: one stored pixel = 2 input pixels
    s = sample([[10, 20, 50, 40], [0, 0, 96, 64]], img_shape=(64, 96))
    s.set_metainfo(dict(ori_shape=(32, 48)))
    rois = det.rois_of([s])[:, 1:]
    x1, y1, x2, y2 = 10, 20, 48, 38  # x2 - 2, y2 - 2
    pw, ph = 0.1 * (x2 - x1 + 1) / 2, 0.05 * (y2 - y1 + 1) / 2
    torch.testing.assert_close(rois[0], torch.tensor([x1 - pw, y1 - ph, x2 + pw, y2 + ph]))
    # the whole frame: x2 = (48 - 1) * 2 = 94 after the convention, 95 = W - 1 after widening
    torch.testing.assert_close(rois[1], torch.tensor([0., 0., 95., 63.]))
    # training keeps the pipeline's boxes (no test-time widening)
    det.train()
    torch.testing.assert_close(det.rois_of([s])[0, 1:], torch.tensor([10., 20, 48, 38]))
    # and rois from the pipeline are never touched
    s.rois = torch.tensor([[1., 2, 3, 4]])
    torch.testing.assert_close(det.eval().rois_of([s])[0, 1:], torch.tensor([1., 2, 3, 4]))
    with pytest.raises(ValueError, match='box_convention'):
        tiny_detector(dict(box_convention='xywh'))


def test_background_class_column_is_dropped_from_the_logits():
    det = tiny_detector(background_class=True).eval()
    assert det.roi_head.fc_cls.out_features == 81
    x, samples = clips(1), [sample([[0, 0, 30, 40]])]
    logits = det(x, samples, mode='tensor')
    feat = det.roi_head.pool(det.extract_feat(x), det.rois_of(samples))
    torch.testing.assert_close(logits, det.roi_head.fc_cls(feat)[:, 1:])


def test_loss_falls_and_handles_empty_samples():
    det = tiny_detector(dropout=0.)
    x = clips()
    samples = [sample([[0, 0, 30, 40], [10, 5, 60, 60]], labels=[[12], [12, 80]]),
               sample([])]  # a clip without any person box
    opt = torch.optim.AdamW(det.parameters(), lr=1e-2)
    first = None
    for _ in range(15):
        losses = det(x, samples, mode='loss')
        assert set(losses) >= {'loss_action'}
        opt.zero_grad()
        losses['loss_action'].backward()
        opt.step()
        first = first if first is not None else losses['loss_action'].item()
    assert losses['loss_action'].item() < first * 0.5


def test_batch_without_boxes_gives_zero_loss_and_gradients():
    det = tiny_detector()
    losses = det(clips(), [sample([]), sample([])], mode='loss')
    assert losses['loss_action'].item() == 0.0
    losses['loss_action'].backward()
    assert all(p.grad is not None for p in det.parameters() if p.requires_grad)


def test_predict_scales_by_proposal_score_and_normalises_boxes():
    det = tiny_detector().eval()
    x = clips(batch=1)
    s = sample([[0, 0, 48, 32], [24, 16, 96, 64]], scores=[0.9, 0.5])
    logits = det(x, [s], mode='tensor')
    out = det(x, [s], mode='predict')[0]
    torch.testing.assert_close(out.pred_scores, logits.sigmoid() * torch.tensor([[0.9], [0.5]]))
    torch.testing.assert_close(out.pred_bboxes, torch.tensor([[0, 0, .5, .5], [.25, .25, 1, 1]]))


def test_bad_mode_is_named():
    with pytest.raises(ValueError, match='mode'):
        tiny_detector()(clips(), [sample([])], mode='bogus')


def test_predict_in_a_batch_equals_predict_alone():
    """Batching is a speed option only: clips of other sizes in the batch (padding) must not
    change a clip's scores. Runs through the data preprocessor as the test loop does."""
    det = tiny_detector()
    det.data_preprocessor = ActionDataPreprocessor(pad_size_divisor=16)
    det.eval()
    torch.manual_seed(1)
    shapes = [(64, 96), (48, 72), (64, 96), (40, 100)]
    inputs = [torch.randint(0, 256, (3, 4, h, w), dtype=torch.uint8) for h, w in shapes]
    boxes = [[[0, 0, 30, 40], [10, 5, 60, 60]], [[5, 5, 70, 47]], [[1, 2, 50, 63]], []]

    def samples():
        return [sample(b, img_shape=s) for b, s in zip(boxes, shapes)]

    with torch.no_grad():
        batched = det.test_step(dict(inputs=inputs, data_samples=samples()))
        alone = [det.test_step(dict(inputs=[x], data_samples=[s]))[0]
                 for x, s in zip(inputs, samples())]
    for b, a in zip(batched, alone):
        assert torch.equal(b.pred_scores, a.pred_scores)
        assert torch.equal(b.pred_bboxes, a.pred_bboxes)
    assert batched[0].pred_scores.shape == (2, 80) and batched[3].pred_scores.shape == (0, 80)


@pytest.mark.parametrize('patch', [8, 16])
def test_head_stride_and_pad_divisor_are_derived_from_the_patch_size(patch):
    det = AVADetector(
        backbone=dict(type=VisionTransformer, num_frames=4, img_size=64, patch_size=patch,
                      embed_dim=16, depth=1, num_heads=2),
        roi_head=dict(type=AVARoIHead), label_map={1: 'a', 2: 'b', 3: 'c'},
        data_preprocessor=dict(type=ActionDataPreprocessor))
    assert det.roi_head.spatial_scale == 1 / patch
    assert det.data_preprocessor.pad_size_divisor == patch
    # the padded batch tiles into whole patches and the RoI lands on the feature grid
    data = det.data_preprocessor(dict(inputs=[torch.zeros(3, 4, 60, 90, dtype=torch.uint8)],
                                      data_samples=[sample([[0, 0, 30, 40]])]))
    assert data['inputs'].shape[-2] % patch == 0 and data['inputs'].shape[-1] % patch == 0
    assert det(data['inputs'], data['data_samples'], mode='tensor').shape == (1, 3)


def test_a_stated_stride_that_disagrees_with_the_patch_size_is_refused():
    with pytest.raises(ValueError, match=r'model\.roi_head\.spatial_scale=0\.0625 .*patch '
                       r'size 8'):
        AVADetector(
            backbone=dict(type=VisionTransformer, num_frames=4, img_size=64, patch_size=8,
                          embed_dim=16, depth=1, num_heads=2),
            roi_head=dict(type=AVARoIHead, spatial_scale=1 / 16))
    with pytest.raises(ValueError, match='pad_size_divisor=12'):
        AVADetector(
            backbone=dict(type=VisionTransformer, num_frames=4, img_size=64, patch_size=8,
                          embed_dim=16, depth=1, num_heads=2),
            roi_head=dict(type=AVARoIHead),
            data_preprocessor=dict(type=ActionDataPreprocessor, pad_size_divisor=12))
