"""Person boxes for the keyframes of a dataset: run a person detector, write the detections
JSON the dataset reads (``proposal_file``), report recall/precision where ground truth exists.

    python tools/data/detect_persons.py CONFIG [--split val] [--detector hog]
    python tools/data/detect_persons.py configs/ava/vit_b.py --detector torchvision \\
        --weights fasterrcnn_resnet50_fpn_coco-258fb6c6.pth --workers 2
    python tools/data/detect_persons.py CONFIG --detector onnx --weights yolo_like.onnx

The keyframes are the images of the split's ``*_min.json`` (``ann_file`` of the config's
``<split>_dataloader.dataset``); the frame of each is read from the dataset's storage layout
(``clips``, ``frames`` or ``videos``, exactly as training reads it). The output (default: the
dataset's ``proposal_file``) is a COCO results list ``[{image_id, bbox: [x, y, w, h] pixels,
score, category_id: 1}]`` keeping every box scoring at least ``--min-score`` (the dataset
applies its own ``det_score_thr``).

Detectors: ``hog`` (OpenCV's HOG people detector, built in, no weights), ``torchvision`` (any
torchvision COCO detection model, ``--arch``, with ``--weights`` a state dict file you have,
loaded with ``weights_only=True``), ``onnx`` (``--weights`` an ONNX model taking a [0, 1] RGB
image and returning boxes, labels, scores; see ``ONNXPersonDetector``).

A run can be killed and started again: finished keyframes are kept in ``OUT.partial`` (one
JSON line each, with the detector settings in its first line) and skipped on the next run;
``--restart`` discards them. ``--workers N`` runs N detector processes.

Where the JSON has ground-truth boxes, person recall at IoU 0.5 and precision are printed
for ``--eval-thr`` (default: the dataset's ``det_score_thr``), and with ``--report`` written
as JSON.
"""
import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a source checkout
# spawned workers import this file by its module name
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from videomae_det.engine.config_checks import ConfigError, load_config  # noqa: E402
from videomae_det.evaluation.functional import person_recall  # noqa: E402
from videomae_det.formats import (AVAFormatError, load_min_json,  # noqa: E402
                                   person_boxes_by_image, write_json)

DETECTORS = ('hog', 'torchvision', 'onnx')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='the config whose dataset (ann_file, storage layout) to run on')
    p.add_argument('--split', default='val', choices=('train', 'val', 'test'),
                   help='which <split>_dataloader.dataset (default val)')
    p.add_argument('--detector', default='hog', choices=DETECTORS)
    p.add_argument('--weights', help='torchvision: state dict file; onnx: the .onnx model')
    p.add_argument('--arch', default='fasterrcnn_resnet50_fpn',
                   help='torchvision detection model name (default fasterrcnn_resnet50_fpn)')
    p.add_argument('--device', default='cpu', help='torchvision detector device')
    p.add_argument('--min-score', type=float, default=0.05,
                   help='boxes scoring below are not written (default 0.05; HOG: at least '
                   '0.5, its decision boundary)')
    p.add_argument('--eval-thr', type=float,
                   help='score threshold for recall/precision (default: the dataset\'s '
                   'det_score_thr, else 0.8)')
    p.add_argument('--out', help='detections JSON (default: the dataset\'s proposal_file)')
    p.add_argument('--report', help='also write recall/precision as JSON here')
    p.add_argument('--workers', type=int, default=1, help='detector processes (default 1)')
    p.add_argument('--restart', action='store_true', help='discard an earlier partial run')
    p.add_argument('--skip-missing', action='store_true',
                   help='keyframes whose video is missing get no boxes (counted) instead of '
                   'stopping the run')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   metavar='KEY=VALUE', help='override config entries (e.g. the layout)')
    return p.parse_args(argv)


def _join(root: str, path: str) -> str:
    return path if os.path.isabs(path) or not root else os.path.join(root, path)


def dataset_of(cfg, split: str) -> dict:
    loader = cfg.get(f'{split}_dataloader')
    if not loader or not loader.get('dataset'):
        raise ConfigError(f'the config has no {split}_dataloader.dataset')
    return loader['dataset']


def make_frame_reader(dataset: dict):
    """The storage layout of a dataset config (its ``layout`` dict, as the dataset reads)."""
    from videomae_det.datasets.layouts import build_layout
    return build_layout(dataset.get('layout', 'clips'), dataset.get('data_root', ''))


def build_detector(args) -> object:
    from videomae_det.apis.person_detectors import (HOGPersonDetector, ONNXPersonDetector,
                                                    TorchvisionPersonDetector)
    if args.detector == 'hog':
        # below 0.5 (SVM margin 0) HOG windows are not detections at all
        return HOGPersonDetector(score_thr=max(args.min_score, 0.5))
    if not args.weights:
        raise ConfigError(f'--detector {args.detector} needs --weights')
    if not os.path.isfile(args.weights):
        raise ConfigError(f'--weights: file not found: {args.weights}')
    if args.detector == 'torchvision':
        return TorchvisionPersonDetector(args.weights, args.arch, score_thr=args.min_score,
                                         device=args.device)
    return ONNXPersonDetector(args.weights, score_thr=args.min_score)


def settings(args, ann_file: str) -> dict:
    """What a partial run must share with this one to be resumed."""
    return dict(ann_file=os.path.abspath(ann_file), detector=args.detector,
                weights=os.path.abspath(args.weights) if args.weights else None,
                arch=args.arch if args.detector == 'torchvision' else None,
                min_score=args.min_score)


# ------------------------------------------------------------------ per keyframe (workers)
_WORKER: Dict[str, object] = {}


def _init_worker(args, dataset: dict) -> None:
    import cv2
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    _WORKER['detector'] = build_detector(args)
    _WORKER['reader'] = make_frame_reader(dataset)
    _WORKER['skip_missing'] = args.skip_missing


def detect_keyframe(image: dict) -> Tuple[int, Optional[List[List[float]]], Optional[str]]:
    """-> (image id, [[x, y, w, h, score], ...] or None when missing, why missing)."""
    from videomae_det.datasets.layouts import MissingClipError
    t = int(image['timestamp'])
    try:
        frame = _WORKER['reader'].load(str(image['movie']), t, np.array([float(t)]))[0]
    except MissingClipError as e:
        if not _WORKER['skip_missing']:
            raise
        return int(image['id']), None, str(e)
    boxes, scores = _WORKER['detector'](frame, video_id=str(image['movie']), timestamp=t)
    dets = [[round(float(x1), 2), round(float(y1), 2), round(float(x2 - x1), 2),
             round(float(y2 - y1), 2), round(float(s), 4)]
            for (x1, y1, x2, y2), s in zip(boxes, scores)]
    return int(image['id']), dets, None


# ------------------------------------------------------------------ resumable store
def read_partial(path: Path, expected: dict) -> Dict[int, list]:
    """Finished keyframes of an earlier run with the same settings (a torn last line, left
    by a kill mid-write, is ignored)."""
    done: Dict[int, list] = {}
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if header != {'settings': expected}:
        raise ConfigError(f'{path} holds a partial run with other settings '
                          f'({lines[0][:200]}); use --restart to discard it')
    for line in lines[1:]:
        try:
            entry = json.loads(line)
            done[int(entry['image_id'])] = entry['dets']
        except (ValueError, KeyError, TypeError):
            continue  # the torn last line of a killed run
    return done


def run(args) -> int:
    cfg = load_config(args.config, args.cfg_options)
    dataset = dataset_of(cfg, args.split)
    root = dataset.get('data_root', '')
    if not dataset.get('ann_file'):
        raise ConfigError(f'{args.split}_dataloader.dataset has no ann_file')
    ann_file = _join(root, dataset['ann_file'])
    out = args.out or (_join(root, dataset['proposal_file']) if dataset.get('proposal_file')
                       else None)
    if not out:
        raise ConfigError(f'{args.split}_dataloader.dataset has no proposal_file: give --out')
    data = load_min_json(ann_file)
    images = sorted(data['images'], key=lambda im: (str(im['movie']), int(im['timestamp'])))
    eval_thr = args.eval_thr if args.eval_thr is not None else float(
        dataset.get('det_score_thr', 0.8))
    if args.workers < 1:
        raise ConfigError(f'--workers must be at least 1, got {args.workers}')

    expected = settings(args, ann_file)
    partial = Path(str(out) + '.partial')
    if args.restart and partial.exists():
        partial.unlink()
    done = read_partial(partial, expected) if partial.exists() else {}
    todo = [im for im in images if int(im['id']) not in done]
    build_detector(args)  # a bad weights file fails here, once, not in every worker
    partial.parent.mkdir(parents=True, exist_ok=True)
    if not partial.exists():
        partial.write_text(json.dumps({'settings': expected}) + '\n', encoding='utf-8')
    print(f'{len(images)} keyframes in {ann_file}: {len(done)} done earlier, {len(todo)} to '
          f'detect with {args.detector} ({args.workers} worker(s))')
    missing: List[str] = []
    with open(partial, 'a', encoding='utf-8') as store:
        results = _detect_all(args, dataset, todo)
        progress = _progress(results, len(images), len(done), not args.no_progress)
        for image_id, dets, why in progress:
            if dets is None:
                missing.append(why)
                dets = []
            done[image_id] = dets
            store.write(json.dumps({'image_id': image_id, 'dets': dets}) + '\n')
            store.flush()  # a kill loses at most the line being written

    results_list = [dict(image_id=int(im['id']), bbox=d[:4], score=d[4], category_id=1)
                    for im in images for d in done.get(int(im['id']), [])]
    write_json(out, results_list)
    partial.unlink()
    print(f'wrote {len(results_list)} person boxes for {len(images)} keyframes to {out}')
    if missing:
        print(f'{len(missing)} keyframe(s) without video got no boxes (--skip-missing), e.g. '
              f'{missing[0]}')
    report = recall_report(data, done, eval_thr)
    if report is not None:
        print(f'person recall@0.5 {report["recall"]:.3f}, precision {report["precision"]:.3f} '
              f'at score >= {eval_thr:g} ({report["num_gt"]} ground-truth boxes on '
              f'{report["keyframes"]} keyframes, {report["num_det"]} detections)')
    if args.report:
        write_json(args.report, dict(detections=str(out), score_threshold=eval_thr,
                                     detector=args.detector, **(report or {})), indent=1)
    return 0


def recall_report(data: dict, done: Dict[int, list], eval_thr: float) -> Optional[dict]:
    """Recall/precision against the JSON's ground-truth boxes (None when it has none)."""
    gt = person_boxes_by_image(data)
    if not gt:
        return None
    dets = {}
    for image_id, rows in done.items():
        arr = np.asarray(rows, np.float64).reshape(-1, 5)
        dets[image_id] = (np.concatenate([arr[:, :2], arr[:, :2] + arr[:, 2:4]], axis=1),
                          arr[:, 4])
    return person_recall({k: np.asarray(v) for k, v in gt.items()}, dets, eval_thr)


def _detect_all(args, dataset: dict, todo: List[dict]):
    if args.workers == 1 or len(todo) <= 1:
        _init_worker(args, dataset)
        return map(detect_keyframe, todo)
    # spawn, not fork: a forked child of a process whose torch/onnxruntime thread pools are
    # running can deadlock
    ctx = multiprocessing.get_context('spawn')
    pool = ctx.Pool(args.workers, initializer=_init_worker, initargs=(args, dataset))
    return _pooled(pool, todo)


def _pooled(pool, todo):
    try:
        yield from pool.imap_unordered(detect_keyframe, todo, chunksize=1)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _progress(iterable, total: int, initial: int, enabled: bool):
    if not enabled:
        return iterable
    from videomae_det.utils.progress import progress_bar
    return progress_bar(iterable, total=total, initial=initial, desc='keyframes', unit='kf')


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except (ConfigError, AVAFormatError, FileNotFoundError, ValueError, ImportError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
