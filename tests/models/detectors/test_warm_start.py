"""Warm start across class sets: the head rows of shared classes are copied (by id or by
name), the others stay fresh, the rest of the detector is copied, and the log says which."""
import pytest
import torch

from videomae_det.action_classes import ActionClasses
from videomae_det.models.backbones.vit import VisionTransformer
from videomae_det.models.detectors import AVADetector
from videomae_det.models.detectors.warm_start import warm_start
from videomae_det.models.heads import AVARoIHead
from videomae_det.utils.atomic import atomic_torch_save


def detector(label_map=None, warm_start=None, seed=0, embed_dim=16):
    torch.manual_seed(seed)
    return AVADetector(
        backbone=dict(type=VisionTransformer, num_frames=4, img_size=32, embed_dim=embed_dim,
                      depth=1, num_heads=2),
        roi_head=dict(type=AVARoIHead), label_map=label_map, warm_start=warm_start)


def save(model, path, meta=True):
    extra = dict(dataset_meta=model.action_classes.to_meta()) if meta else {}
    atomic_torch_save(dict(state_dict=model.state_dict(), meta=dict(cfg='', **extra)), path)
    return str(path)


def test_rows_of_shared_ids_are_copied_the_rest_fresh(tmp_path):
    ava = detector(seed=1)  # an "AVA-trained" detector (80 rows)
    path = save(ava, tmp_path / 'ava.pth', meta=False)  # no meta: 80 rows are AVA's
    mine = detector({12: 'stand', 14: 'walk', 300: 'juggle'}, warm_start=path, seed=2)
    fresh = mine.roi_head.fc_cls.weight[2].clone()
    mine.init_weights()
    src_w, src_b = ava.roi_head.fc_cls.weight, ava.roi_head.fc_cls.bias
    torch.testing.assert_close(mine.roi_head.fc_cls.weight[0], src_w[11])  # id 12 <- 12
    torch.testing.assert_close(mine.roi_head.fc_cls.weight[1], src_w[13])  # id 14 <- 14
    torch.testing.assert_close(mine.roi_head.fc_cls.bias[:2], src_b[[11, 13]])
    torch.testing.assert_close(mine.roi_head.fc_cls.weight[2], fresh)  # 300: new class
    for name, p in ava.backbone.state_dict().items():
        torch.testing.assert_close(mine.backbone.state_dict()[name], p)
    # what the log says
    text = warm_start(detector({12: 'stand', 14: 'walk', 300: 'juggle'}), path)['message']
    assert '2 of 3 head rows copied, 1 initialised fresh' in text
    assert "12 'stand' <- 12 'stand'" in text and "fresh    300 'juggle'" in text


def test_match_by_name_across_other_ids(tmp_path):
    src = detector({3: 'Stroll', 17: 'sprint', 42: 'hop'}, seed=1)
    path = save(src, tmp_path / 'five.pth')
    # same names, other ids, other case/spacing; 'sit' is new
    mine = detector({1: 'stroll', 2: 'hop', 9: 'sit'}, seed=2,
                    warm_start=dict(checkpoint=path, match='name'))
    mine.init_weights()
    w = mine.roi_head.fc_cls.weight
    torch.testing.assert_close(w[0], src.roi_head.fc_cls.weight[0])
    torch.testing.assert_close(w[1], src.roi_head.fc_cls.weight[2])
    # by id nothing matches: every row stays fresh
    by_id = detector({1: 'stroll', 2: 'hop', 9: 'sit'}, seed=2, warm_start=path)
    before = by_id.roi_head.fc_cls.weight.clone()
    by_id.init_weights()
    torch.testing.assert_close(by_id.roi_head.fc_cls.weight, before)


def test_bad_warm_starts_are_named(tmp_path):
    src = detector({3: 'a', 4: 'b'}, seed=1)
    path = save(src, tmp_path / 'two.pth', meta=False)
    with pytest.raises(ValueError, match=r'two\.pth: its head has 2 rows but the checkpoint '
                       r'does not say which classes'):
        detector({3: 'a'}, warm_start=path).init_weights()
    wide = save(detector({3: 'a'}, embed_dim=24), tmp_path / 'wide.pth')
    with pytest.raises(ValueError, match=r'wide\.pth does not fit the model .*another shape'):
        detector({3: 'a'}, warm_start=wide).init_weights()
    with pytest.raises(ValueError, match="match must be 'id' or 'name'"):
        detector({3: 'a'}, warm_start=dict(checkpoint=path, match='position'))
    assert ActionClasses.from_meta(dict(action_ids=(3,), classes=('a',))).ids == (3,)
