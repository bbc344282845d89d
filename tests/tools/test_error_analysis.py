"""tools/error_analysis.py: mAP with detected boxes beside mAP with ground-truth boxes."""
import json

import pytest
import torch
from mmengine.config import Config

from videomae_det.registry import MODELS
from videomae_det.utils.atomic import atomic_torch_save


def test_comparison_table(tool):
    analysis = tool('error_analysis')
    text = analysis.format_comparison(
        {'ava/mAP': 0.2, 'ava/AP_3': 0.1, 'ava/AP_17': 0.3},
        {'ava/mAP': 0.5, 'ava/AP_3': 0.4, 'ava/AP_17': 0.6},
        {3: 'stroll', 17: 'sprint'},
        dict(recall=0.75, precision=0.5, num_gt=8, num_det=12, score_threshold=0.8))
    assert '  3 stroll' in text and '17 sprint' in text
    row = [line for line in text.splitlines() if line.startswith('  3 stroll')][0]
    assert row.split()[-3:] == ['10.00', '40.00', '30.00']
    assert 'the person detector costs 30.00 points' in text
    assert 'recall@0.5 0.750, precision 0.500' in text


@pytest.mark.slow
def test_detected_and_groundtruth_runs(in_mini_ava_workspace, mini_config, tiny_options, tool,
                                       capsys):
    cfg = Config.fromfile(mini_config)
    cfg.model.backbone.update(embed_dim=32, depth=1, num_heads=2)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = in_mini_ava_workspace / 'det.pth'
    atomic_torch_save(dict(state_dict=model.state_dict(), meta=dict(cfg=cfg.pretty_text)), ckpt)
    out = in_mini_ava_workspace / 'report.json'
    options = [o for o in tiny_options if not o.startswith('train_')]
    assert tool('error_analysis').main([mini_config, str(ckpt), '--out', str(out),
                                        '--cfg-options', *options]) == 0
    printed = capsys.readouterr().out
    assert 'GT boxes' in printed and 'the person detector costs' in printed
    report = json.loads(out.read_text())
    det, gt = report['detected_boxes'], report['groundtruth_boxes']
    assert 0 <= det['ava/mAP'] <= 1 and 0 <= gt['ava/mAP'] <= 1
    assert det['ava/mAP'] != gt['ava/mAP']  # other boxes, other scores
    ann = json.loads((in_mini_ava_workspace / 'data/mini_ava/annotations/'
                      'ava_val_v2.2_min.json').read_text())
    assert report['person_boxes']['num_gt'] == len(ann['annotations'])
    assert 0 < report['person_boxes']['recall'] <= 1  # mini-AVA's simulated detector
