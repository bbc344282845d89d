"""The key report names what does not fit and the likely cause, for the usual mistakes."""
import argparse

import pytest
import torch

from videomae_det.models import AVADetector, AVARoIHead, VisionTransformer
from videomae_det.models.weights import WeightsMismatchError, compare, load_detector


def detector(embed_dim=32, depth=2, **head):
    torch.manual_seed(0)
    return AVADetector(
        backbone=dict(type=VisionTransformer, num_frames=4, img_size=32, embed_dim=embed_dim,
                      depth=depth, num_heads=2),
        roi_head=dict(type=AVARoIHead, **head))


def refused(model, path):
    with pytest.raises(WeightsMismatchError) as info:
        load_detector(model, path)
    return info.value.report, str(info.value)


def test_a_fitting_detector_loads_and_reports_ok(tmp_path):
    source = detector()
    torch.save({'state_dict': source.state_dict()}, tmp_path / 'ok.pth')
    target = detector()
    torch.nn.init.zeros_(target.roi_head.fc_cls.weight)
    report = load_detector(target, tmp_path / 'ok.pth')
    assert report.ok and report.source == 'ours' and report.likely_cause() is None
    assert torch.equal(target.roi_head.fc_cls.weight, source.roi_head.fc_cls.weight)


def test_a_backbone_checkpoint_is_not_a_detector(tmp_path):
    backbone = detector().backbone.state_dict()
    torch.save({'model': backbone, 'args': argparse.Namespace()}, tmp_path / 'k400_ft.pth')
    model = detector()
    before = model.backbone.blocks[0].attn.qkv.weight.clone()
    report, text = refused(model, tmp_path / 'k400_ft.pth')
    assert report.source == 'official_finetune' and report.unexpected == []
    assert sorted(report.missing) == ['roi_head.fc_cls.bias', 'roi_head.fc_cls.weight']
    assert 'a backbone checkpoint (official_finetune), not a detector' in text
    assert 'model.backbone.pretrained' in text
    assert torch.equal(model.backbone.blocks[0].attn.qkv.weight, before)  # nothing loaded


def test_an_mmaction2_file_needs_the_background_column(tmp_path):
    source = detector(num_classes=80, background_class=True)
    sd = {k: v for k, v in source.state_dict().items()}
    assert sd['roi_head.fc_cls.weight'].shape[0] == 81
    torch.save({'state_dict': sd}, tmp_path / 'mm.pth')
    report, text = refused(detector(), tmp_path / 'mm.pth')
    assert list(report.mismatched) == ['roi_head.fc_cls.weight', 'roi_head.fc_cls.bias']
    assert 'background_class=True' in text
    # and the other way round
    torch.save({'state_dict': detector().state_dict()}, tmp_path / 'ours.pth')
    _, text = refused(detector(background_class=True), tmp_path / 'ours.pth')
    assert 'background_class=False' in text


def test_depth_and_class_count_mismatches():
    deep, shallow = detector(depth=3).state_dict(), detector(depth=2).state_dict()
    assert 'more transformer blocks (3)' in compare(shallow, deep).likely_cause()
    assert 'fewer transformer blocks' in compare(deep, shallow).likely_cause()
    sixty = detector(num_classes=60).state_dict()
    assert 'the classifier has 60 classes, the config 80' in compare(shallow, sixty).likely_cause()


def test_partial_load_is_explicit_and_never_loads_a_wrong_shape(tmp_path):
    sd = detector().state_dict()
    del sd['roi_head.fc_cls.bias']
    torch.save(sd, tmp_path / 'cut.pth')
    model = detector()
    report = load_detector(model, tmp_path / 'cut.pth', strict=False)
    assert report.missing == ['roi_head.fc_cls.bias'] and not report.ok
    torch.save(detector(embed_dim=64).state_dict(), tmp_path / 'wide.pth')
    with pytest.raises(WeightsMismatchError, match='ViT of width 64'):
        load_detector(detector(), tmp_path / 'wide.pth', strict=False)
