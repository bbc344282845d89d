import os
import socket

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from videomae_det.evaluation.functional import evaluate_frame_map
from videomae_det.formats import read_detections, read_groundtruth, read_label_map
from videomae_det.evaluation.metrics import AVAMetric
from videomae_det.structures import ActionDataSample

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures',
                        'eval_detection')
GT = os.path.join(FIXTURES, 'gt.csv')
LABEL_MAP = os.path.join(FIXTURES, 'action_list.txt')


def samples(seed=None):
    """One ActionDataSample per ground-truth keyframe; perfect scores unless ``seed``."""
    gt = read_groundtruth(GT)
    rng = np.random.default_rng(seed)
    out = []
    for k, (movie, ts) in enumerate(gt.keys):
        rows = gt.key_index == k
        boxes, inverse = np.unique(gt.row_boxes(rows), axis=0, return_inverse=True)
        scores = np.zeros((len(boxes), 80), np.float32)
        scores[inverse.ravel(), gt.labels[rows] - 1] = 1.0
        if seed is not None:
            boxes = np.clip(boxes + rng.normal(0, 0.05, boxes.shape), 0, 1)
            scores = rng.random(scores.shape).astype(np.float32)
        sample = ActionDataSample(metainfo=dict(movie=movie, timestamp=ts))
        sample.pred_bboxes = torch.as_tensor(boxes, dtype=torch.float32)
        sample.pred_scores = torch.as_tensor(scores)
        out.append(sample)
    return out


def test_perfect_predictions_through_the_evaluator(tmp_path, monkeypatch):
    work = tmp_path / 'work'
    work.mkdir()
    monkeypatch.chdir(work)
    out_file = tmp_path / 'results' / 'pred.csv'
    evaluator = Evaluator(AVAMetric(ann_file=GT, label_map_file=LABEL_MAP, out_file=out_file))
    data = samples()
    evaluator.process(data_samples=data[:2])
    evaluator.process(data_samples=data[2:])
    metrics = evaluator.evaluate(len(data))
    assert metrics['ava/mAP'] == 1.0
    assert metrics['ava/pose_mAP'] == 1.0
    assert metrics['ava/AP_3'] == 1.0
    assert list(work.iterdir()) == []  # nothing written into the working directory
    assert sorted(p.name for p in out_file.parent.iterdir()) == ['pred.csv']
    assert len(out_file.read_text().splitlines()) == 12 * 3  # 12 boxes x 3 mapped classes


@pytest.mark.parametrize('mode', ['official', 'legacy'])
def test_metric_equals_csv_evaluation_of_its_output(tmp_path, mode):
    metric = AVAMetric(ann_file=GT, label_map_file=LABEL_MAP, mode=mode,
                       out_file=tmp_path / 'pred.csv')
    metric.process({}, [s.to_dict() for s in samples(seed=3)])
    metrics = metric.compute_metrics(metric.results)
    from_csv = evaluate_frame_map(read_groundtruth(GT), read_detections(tmp_path / 'pred.csv'),
                                  read_label_map(LABEL_MAP), mode)
    assert metrics['mAP'] == from_csv.mAP
    assert 0.0 < metrics['mAP'] < 1.0
    assert {k: v for k, v in metrics.items() if k.startswith('AP_')} == {
        f'AP_{c}': ap for c, ap in from_csv.per_class.items()}


def test_no_output_file_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    metric = AVAMetric(ann_file=GT, label_map_file=LABEL_MAP)
    metric.process({}, samples(seed=1))
    assert 0.0 <= metric.evaluate(3)['ava/mAP'] <= 1.0
    assert list(tmp_path.iterdir()) == []


def test_bad_configuration_fails_early(tmp_path):
    with pytest.raises(ValueError, match='mode'):
        AVAMetric(ann_file=GT, label_map_file=LABEL_MAP, mode='coco')
    with pytest.raises(ValueError, match='label map file not found'):
        AVAMetric(ann_file=GT, label_map_file=tmp_path / 'missing.pbtxt')
    with pytest.raises(ValueError, match='val.csv: ground-truth file not found'):
        AVAMetric(ann_file=tmp_path / 'val.csv', label_map_file=LABEL_MAP)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank_main(rank, world_size, port, out):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    try:
        data = samples(seed=7)
        # DefaultSampler hands out indices round-robin and pads the last round.
        padded = data + data[:1]
        metric = AVAMetric(ann_file=GT, label_map_file=LABEL_MAP)
        metric.process({}, padded[rank::world_size])
        out[rank] = metric.evaluate(len(data))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_results_are_gathered_across_ranks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    single = AVAMetric(ann_file=GT, label_map_file=LABEL_MAP)
    single.process({}, samples(seed=7))
    expected = single.evaluate(3)
    manager = torch.multiprocessing.Manager()
    out = manager.dict()
    torch.multiprocessing.spawn(_rank_main, args=(2, _free_port(), out), nprocs=2)
    assert out[0] == expected and out[1] == expected
    assert list(tmp_path.iterdir()) == []
