"""Check the data a config will read, before training or testing on it: every problem is
listed (file, row or movie, and what is wrong); the exit code is 1 if there is any.

    python tools/check_data.py configs/ava/vit_b.py
    python tools/check_data.py configs/mini_ava/vit_tiny.py --no-decode
    python tools/check_data.py CONFIG --cfg-options train_dataloader.dataset.data_root=/data/ava

For every AVA dataset of the config's train/val/test dataloaders (and their evaluators):

- the ``*_min.json`` parses and is well formed: values of the right type, no duplicate
  image ids, keyframes or annotation ids, annotations pointing at images, ids that agree
  with the movie numbering it records;
- the person detections (``proposal_file``: COCO results JSON, person-box CSV or mmaction2
  proposals pickle) parse, have finite scores, belong to the JSON's images (numbering and
  movie/timestamp), and leave a box at ``det_score_thr`` on the keyframes (keyframes left
  without one are counted; none left at all is an error);
- the evaluator's ground-truth CSV, label map and excluded-timestamps file parse, and every
  ground-truth keyframe has an image in the JSON;
- the video data (``layout``): each movie's stored frames have the width/height the JSON
  gives it (else the boxes land in the wrong place); no annotated keyframe lies past a
  movie's last stored second (a truncated cut); every clip/frame/video a keyframe's clip
  needs exists and (clips, videos) decodes to its last frame (``--no-decode`` skips this).
"""
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from mmengine.config import DictAction  # noqa: E402

from videomae_det.datasets.layouts import (MissingClipError, build_layout,  # noqa: E402
                                           sampling_times)
from videomae_det.datasets.video_io import VideoDecodeError, verify_video  # noqa: E402
from videomae_det.engine.config_checks import ConfigError, load_config  # noqa: E402
from videomae_det.formats import (AVAFormatError, check_min_json, load_json,  # noqa: E402
                                  read_exclusions, read_groundtruth, read_label_map,
                                  read_person_detections)
from videomae_det.utils import cli  # noqa: E402
from videomae_det.utils.atomic import atomic_write_text  # noqa: E402
from videomae_det.utils.progress import progress_bar  # noqa: E402

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _verify(args):
    path, expected = args
    return path, verify_video(path, expected)


def _join(root: Optional[str], path: str) -> str:
    return path if os.path.isabs(path) or not root else os.path.join(root, path)


def _arg(dataset, name: str, default=None):
    value = dataset.get(name, default)
    return value.to_dict() if hasattr(value, 'to_dict') else value


def _is_ava_dataset(dataset) -> bool:
    kind = dataset.get('type')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    return name.split('.')[-1] == 'AVAVideoDataset'


class Checker:
    """Collects problems (strings naming the file, row or movie and what is wrong) and
    notes (facts worth knowing that do not fail the check)."""

    def __init__(self):
        self.problems: List[str] = []
        self.notes: List[str] = []
        self.n_keyframes = 0
        self.needed: Dict[str, int] = {}  # present files a clip needs -> frames expected

    def add(self, message: str):
        if message not in self.problems:
            self.problems.append(message)

    # ------------------------------------------------------------------ files
    def min_json(self, path: str, require_actions: bool) -> Optional[dict]:
        try:
            data = load_json(path, 'annotation JSON')
        except AVAFormatError as e:
            self.add(str(e))
            return None
        problems = check_min_json(data, path, require_actions, limit=200)
        for p in problems:
            self.add(str(p))
        if problems:
            return None  # the checks below need well-formed images
        data.setdefault('annotations', [])
        return data

    def detections(self, path: str, ann_path: str, data: dict, thr: float) -> set:
        """Image ids that keep a box at ``thr``."""
        try:
            dets = read_person_detections(path, data, ann_path)
        except AVAFormatError as e:
            self.add(str(e))
            return set()
        kept = {i for i, s in dets.scores.items() if (s >= thr).any()}
        lost = len(data['images']) - len(kept)
        if not kept:
            top = max((float(s.max()) for s in dets.scores.values() if len(s)), default=None)
            self.add(f'{path}: no keyframe of {ann_path} keeps a detection at det_score_thr='
                     f'{thr} ({len(dets)} detections on its keyframes, highest score {top}): '
                     f'nothing to validate on')
        elif lost:
            self.notes.append(f'{path}: {lost} of {len(data["images"])} keyframes keep no '
                              f'detection at det_score_thr={thr} (skipped by the dataset)')
        if dets.skipped:
            self.notes.append(f'{path}: {dets.skipped} detection(s) on keyframes absent from '
                              f'{ann_path} (ignored)')
        return kept

    def evaluator(self, metric, ann_path: str, data: Optional[dict]):
        for key, reader in (('label_map_file', read_label_map),
                            ('exclude_file', read_exclusions)):
            if metric.get(key):
                try:
                    reader(metric[key])
                except AVAFormatError as e:
                    self.add(str(e))
        if not metric.get('ann_file'):
            return
        try:
            rows = read_groundtruth(metric['ann_file'])
        except AVAFormatError as e:
            self.add(str(e))
            return
        if data is None:
            return
        images = {(img['movie'], int(img['timestamp'])) for img in data['images']}
        absent = [k for k in rows.keys if k not in images]
        if absent:
            self.add(f'{metric["ann_file"]}: {len(absent)} ground-truth keyframe(s) have no '
                     f'image in {ann_path}, e.g. {", ".join(f"{m} {t}" for m, t in absent[:3])}')

    # ------------------------------------------------------------------ video data
    def video(self, dataset: dict, ann_path: str, data: dict, keyframes: Optional[set]):
        root = dataset.get('data_root') or ''
        try:
            layout = build_layout(_arg(dataset, 'layout', 'clips'), root)
        except ValueError as e:
            self.add(f'{ann_path}: layout: {e}')
            return
        if not os.path.isdir(layout.root):
            self.add(f'{layout.type} folder {layout.root} not found (layout.dir under '
                     f'data_root {root!r})')
            return
        clip_len = int(dataset.get('clip_len', 16))
        frame_interval = int(dataset.get('frame_interval', 4))
        sample_fps = float(dataset.get('sample_fps', 25.0))
        by_movie: Dict[str, List[dict]] = {}
        for img in data['images']:
            if keyframes is None or img['id'] in keyframes:
                by_movie.setdefault(img['movie'], []).append(img)
        reported = set()
        for movie, images in by_movie.items():
            try:
                w, h = layout.frame_size(movie)
            except MissingClipError:
                self.add(f'missing: movie {movie}: no video data under '
                         f'{layout.movie_folder(movie)} ({len(images)} keyframe(s) of '
                         f'{os.path.basename(ann_path)})')
                continue
            except VideoDecodeError as e:
                self.add(f'undecodable: movie {movie}: {e}')
                continue
            sizes = {(int(i['width']), int(i['height'])) for i in images}
            if sizes != {(w, h)}:
                jw, jh = sorted(sizes)[0]
                self.add(f'movie {movie}: stored frames are {w}x{h} but {ann_path} gives '
                         f'{jw}x{jh}: its boxes would land in the wrong place (rebuild the '
                         f'JSON from these frames with tools/data/ava/csv_to_min_json.py)')
            last = layout.last_second(movie)
            past = sorted(int(i['timestamp']) for i in images if last is not None
                          and int(i['timestamp']) > last + 1e-6)
            if past:
                self.add(f'movie {movie}: {len(past)} annotated keyframe(s) ({past[0]}..'
                         f'{past[-1]}) lie past its last stored second {last:.2f} under '
                         f'{layout.movie_folder(movie)} (a truncated cut?)')
            for img in images:
                self.n_keyframes += 1
                t = int(img['timestamp'])
                times = sampling_times(t, clip_len, frame_interval, sample_fps)
                missing = {p for _, p in layout.missing(movie, t, times)}
                for sec, path in layout.needed(movie, t, times):
                    if path in missing:
                        if path not in reported:
                            reported.add(path)
                            self.add(f'missing: movie {movie} second {sec}: {path} (needed by '
                                     f'keyframe {t:04d} of {os.path.basename(ann_path)})')
                    elif layout.type != 'frames':
                        self.needed[path] = layout.fps if layout.type == 'clips' else None


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the config whose data to check')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE', help='override config entries, as in train.py')
    parser.add_argument('--loaders', nargs='+', choices=['train', 'val', 'test'],
                        default=['train', 'val', 'test'], help='which dataloaders to check')
    parser.add_argument('--no-decode', action='store_true', help='only check that files exist')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--out', help='also write the report as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options)
    except ConfigError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    checker = Checker()
    seen, n_datasets = set(), 0
    for name in (f'{loader}_dataloader' for loader in args.loaders):
        if not cfg.get(name) or not _is_ava_dataset(cfg[name].get('dataset', {})):
            continue
        dataset = cfg[name]['dataset']
        root = dataset.get('data_root') or ''
        ann_path = _join(root, dataset['ann_file'])
        proposal = dataset.get('proposal_file')
        proposal = _join(root, proposal) if proposal else None
        key = (ann_path, proposal, json.dumps(_arg(dataset, 'layout', 'clips'), sort_keys=True,
                                              default=str))
        metrics = cfg.get(name.replace('dataloader', 'evaluator')) or []
        metrics = metrics if isinstance(metrics, list) else [metrics]
        if key in seen:
            continue
        seen.add(key)
        n_datasets += 1
        data = checker.min_json(ann_path, require_actions=proposal is None)
        for metric in metrics:
            checker.evaluator(metric, ann_path, data)
        if data is None:
            continue
        keyframes = None
        if proposal:
            keyframes = checker.detections(proposal, ann_path, data,
                                           float(dataset.get('det_score_thr', 0.8)))
        checker.video(dataset, ann_path, data, keyframes)
    if not n_datasets:
        checker.add(f'{args.config}: no AVAVideoDataset in the {"/".join(args.loaders)} '
                    f'dataloaders')

    verified = 0
    if not args.no_decode and checker.needed:
        jobs = sorted(checker.needed.items())
        pool = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
        results = pool.map(_verify, jobs, chunksize=16) if pool else map(_verify, jobs)
        try:
            for path, problem in progress_bar(results, total=len(jobs), desc='decoding',
                                              unit='file',
                                              disable=True if len(jobs) < 50 else None):
                verified += 1
                if problem:
                    checker.add(f'undecodable: {path}: {problem}')
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    for p in checker.problems:
        print(p)
    for n in checker.notes:
        print(f'note: {n}')
    summary = (f'{checker.n_keyframes} keyframes in {n_datasets} dataset(s), '
               f'{len(checker.needed)} video files present, {verified} decoded: '
               f'{len(checker.problems)} problem(s)')
    print(('FAILED: ' if checker.problems else 'OK: ') + summary)
    if args.out:
        atomic_write_text(args.out, json.dumps(dict(problems=checker.problems,
                                                    notes=checker.notes, summary=summary),
                                               indent=1) + '\n')
    return 1 if checker.problems else 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
