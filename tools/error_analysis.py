"""What does the person detector cost? Val mAP with detected boxes beside the mAP with the
ground-truth boxes as proposals, per class, plus the detector's person recall and precision.

    python tools/error_analysis.py CONFIG CHECKPOINT [--split test] [--out report.json]

Both runs use the config's test set, its test pipeline and the same checkpoint; the second
replaces the detected boxes (``proposal_file``) by the ground-truth boxes of the
``*_min.json`` (score 1.0, so the action scores are not multiplied by a detector score). The
gap between the two mAPs is what imperfect person boxes cost; what is left below 100 with
ground-truth boxes is the action classifier's share. The detected boxes are also matched to
the ground truth (IoU 0.5) at the dataset's ``det_score_thr``.
"""
import argparse
import copy
import json
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmengine.config import DictAction

from videomae_det.engine.config_checks import (ConfigError, DataNotFoundError, check_class_sets,
                                               check_data_paths, load_config)
from videomae_det.engine.distributed import shutdown_process_group
from videomae_det.formats import (AVAFormatError, load_min_json, person_boxes_by_image,
                                   read_person_detections)
from videomae_det.models.weights import UnsafeCheckpointError, WeightsMismatchError
from videomae_det.utils.atomic import atomic_write_text

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import test as test_tool  # noqa: E402  (tools/test.py: the same evaluation)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out', help='write the comparison as JSON here')
    p.add_argument('--work-dir', help='where the logs of both runs go (default: '
                   'work_dirs/<config name>/error_analysis)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   metavar='KEY=VALUE', help='override config entries')
    return p.parse_args(argv)


def _joined(root: str, path: str) -> str:
    return path if osp.isabs(path) or not root else osp.join(root, path)


def detector_recall(dataset: dict) -> Optional[dict]:
    """Person recall/precision of the dataset's proposal_file at its det_score_thr."""
    import numpy as np

    from videomae_det.evaluation.functional import person_recall
    root = dataset.get('data_root', '')
    ann_file = _joined(root, dataset['ann_file'])
    data = load_min_json(ann_file)
    gt = person_boxes_by_image(data)
    if not gt:
        return None
    dets = read_person_detections(_joined(root, dataset['proposal_file']), data, ann_file)
    by_image = {int(k): (np.asarray(dets.boxes[k]), np.asarray(dets.scores[k]))
                for k in dets.boxes}
    thr = float(dataset.get('det_score_thr', 0.8))
    result = person_recall({k: np.asarray(v) for k, v in gt.items()},
                           by_image, thr)
    return dict(result, score_threshold=thr)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options)
        if not osp.isfile(args.checkpoint):
            raise ConfigError(f'checkpoint not found: {args.checkpoint}')
        dataset = cfg.test_dataloader.dataset
        if not dataset.get('proposal_file'):
            raise ConfigError('test_dataloader.dataset has no proposal_file: the test set '
                              'already uses ground-truth boxes, there is nothing to compare')
        check_data_paths(cfg, ['test_dataloader'])
        check_class_sets(cfg, ['test_dataloader'])
        recall = detector_recall(dataset)
    except (ConfigError, DataNotFoundError, AVAFormatError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', name, 'error_analysis')
    runs = {}
    for kind in ('detected', 'groundtruth'):
        run_cfg = copy.deepcopy(cfg)
        run_cfg.work_dir = osp.join(work_dir, kind)
        run_cfg.load_from = args.checkpoint
        run_cfg.resume = False
        run_cfg.launcher = 'none'
        if 'backbone' in run_cfg.model:
            run_cfg.model.backbone.pretrained = None  # the checkpoint has the weights
        if kind == 'groundtruth':
            run_cfg.test_dataloader.dataset.proposal_file = None
        try:
            runs[kind], _ = test_tool.evaluate(run_cfg)
        except (WeightsMismatchError, UnsafeCheckpointError) as err:
            print(f'error: {err}', file=sys.stderr)
            return 2
        finally:
            shutdown_process_group()
    names = test_tool.label_map_of(cfg)
    print(format_comparison(runs['detected'], runs['groundtruth'], names, recall))
    if args.out:
        report = dict(config=args.config, checkpoint=args.checkpoint,
                      detected_boxes=runs['detected'], groundtruth_boxes=runs['groundtruth'],
                      person_boxes=recall)
        atomic_write_text(args.out, json.dumps(report, indent=1) + '\n')
    return 0


def format_comparison(detected: Dict[str, float], groundtruth: Dict[str, float],
                      names: Dict[int, str], recall: Optional[dict]) -> str:
    """Two metric dicts (``<prefix>/AP_<id>``, ``<prefix>/mAP``) -> a side-by-side table."""
    def per_class(metrics):
        out = {}
        for key, value in metrics.items():
            last = key.split('/')[-1]
            if last.startswith('AP_') and last[3:].isdigit():
                out[int(last[3:])] = value
        return out

    def overall(metrics, name='mAP'):
        return next((v for k, v in metrics.items() if k.split('/')[-1] == name), None)

    det, gt = per_class(detected), per_class(groundtruth)
    ids = sorted(set(det) | set(gt))
    labels = {i: f'{i:>3} {names.get(i, "")}' for i in ids}
    width = max([len(v) for v in labels.values()] + [12])

    def cell(v):
        return f'{100 * v:8.2f}' if v is not None else '     n/a'

    lines = [f'{"class":<{width}}  detected  GT boxes    cost', '-' * (width + 30)]
    for i in ids:
        a, b = det.get(i), gt.get(i)
        cost = f'{100 * (b - a):8.2f}' if a is not None and b is not None else '        '
        lines.append(f'{labels[i]:<{width}}  {cell(a)}  {cell(b)}{cost}')
    a, b = overall(detected), overall(groundtruth)
    lines.append('-' * (width + 30))
    lines.append(f'{"mAP":<{width}}  {cell(a)}  {cell(b)}'
                 + (f'{100 * (b - a):8.2f}' if a is not None and b is not None else ''))
    if a is not None and b is not None:
        lines.append(f'with ground-truth person boxes the mAP is {100 * b:.2f} instead of '
                     f'{100 * a:.2f}: the person detector costs {100 * (b - a):.2f} points')
    if recall is not None:
        lines.append(f'detected person boxes at score >= {recall["score_threshold"]:g}: recall@0.5 '
                     f'{recall["recall"]:.3f}, precision {recall["precision"]:.3f} '
                     f'({recall["num_gt"]} ground-truth boxes, {recall["num_det"]} detections)')
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
