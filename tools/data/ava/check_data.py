"""Check an AVA-format dataset before training on it: every missing or undecodable clip and
every annotation that points at nothing is reported; the exit code is 1 if anything is wrong.

    python tools/data/ava/check_data.py data/ava
    python tools/data/ava/check_data.py data/mini_ava --clip-len 8 --frame-interval 4

Checks (files relative to the dataset root, defaults as in the README "Data" layout):
- each ``annotations/ava_*_v2.2_min.json`` parses, and every annotation's ``image_id`` exists;
- the detections JSON (``boxes/ava_val_det_person_bbox.json``) parses and its image ids exist
  in the val JSON;
- every keyframe of the official CSVs has an image in the matching JSON;
- every clip (frames, video) that a keyframe's clip of ``--clip-len`` × ``--frame-interval``
  frames needs exists (as ``AVAVideoDataset`` would read it), and each such clip opens, has
  ``--clip-fps`` frames and decodes to its last frame (``--no-decode`` skips this).
"""
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from a source checkout

from tqdm import tqdm  # noqa: E402

from videomae_det.datasets.ava import make_layout, sampling_times  # noqa: E402
from videomae_det.formats import AVAFormatError, CSVBox, iter_csv_rows, load_json  # noqa: E402
from videomae_det.datasets.video_io import verify_video  # noqa: E402
from videomae_det.utils.atomic import atomic_write_text  # noqa: E402
from videomae_det.utils import cli  # noqa: E402


def _verify(args):
    path, expected = args
    return path, verify_video(path, expected)


class Checker:
    """Collects problems (strings naming the file and what is wrong)."""

    def __init__(self):
        self.problems: List[str] = []

    def add(self, message: str):
        self.problems.append(message)

    def load_min_json(self, path: str) -> Optional[dict]:
        try:
            data = load_json(path)
        except (AVAFormatError, FileNotFoundError) as e:
            self.add(str(e))
            return None
        if not isinstance(data, dict) or not isinstance(data.get('images'), list):
            self.add(f'{path}: not a COCO-like object with an "images" list')
            return None
        ids = set()
        for i, img in enumerate(data['images']):
            absent = [k for k in ('id', 'movie', 'timestamp', 'width', 'height') if k not in img]
            if absent:
                self.add(f'{path}: image #{i} lacks {absent}')
            else:
                ids.add(img['id'])
        for i, ann in enumerate(data.get('annotations', [])):
            if ann.get('image_id') not in ids:
                self.add(f'{path}: annotation #{i} (id {ann.get("id")}) points at image_id '
                         f'{ann.get("image_id")}, which is not in its images')
        data['images'] = [img for img in data['images'] if 'id' in img and 'movie' in img
                          and 'timestamp' in img]
        return data

    def check_dets(self, path: str, ann_path: str, data: Optional[dict]):
        try:
            dets = load_json(path)
        except (AVAFormatError, FileNotFoundError) as e:
            self.add(str(e))
            return
        if not isinstance(dets, list):
            self.add(f'{path}: not a COCO results list')
            return
        ids = {img['id'] for img in data['images']} if data else set()
        for i, d in enumerate(dets):
            if not isinstance(d, dict) or not {'image_id', 'bbox', 'score'} <= set(d):
                self.add(f'{path}: detection #{i} lacks image_id, bbox or score')
            elif data is not None and d['image_id'] not in ids:
                self.add(f'{path}: detection #{i} points at image_id {d["image_id"]}, which is '
                         f'not in {ann_path}')

    def check_csv(self, path: str, data: Optional[dict], ann_path: str):
        if data is None:
            return
        keys = {(img['movie'], int(img['timestamp'])) for img in data['images']}
        seen = set()
        try:
            for line, row in iter_csv_rows(path):
                key = (row.movie, row.timestamp) if isinstance(row, CSVBox) else row
                if key not in keys and key not in seen:
                    self.add(f'{path}, line {line}: keyframe {key[0]},{key[1]:04d} has no image '
                             f'in {ann_path}')
                seen.add(key)
        except (AVAFormatError, FileNotFoundError) as e:
            self.add(str(e))


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='dataset root (e.g. data/ava or data/mini_ava)')
    parser.add_argument('--ann', nargs='+', help='*_min.json files (default: '
                        'annotations/ava_{train,val}_v2.2_min.json that exist)')
    parser.add_argument('--dets', help='detections JSON (default: '
                        'boxes/ava_val_det_person_bbox.json if it exists)')
    parser.add_argument('--dets-ann', help='the JSON whose image ids the detections use '
                        '(default: the --ann file with "val" in its name)')
    parser.add_argument('--layout', default='clips', choices=['clips', 'frames', 'videos'])
    parser.add_argument('--clip-dir', default='clips/trainval')
    parser.add_argument('--clip-fps', type=int, default=25)
    parser.add_argument('--frame-dir', default='frames')
    parser.add_argument('--video-dir', default='videos')
    parser.add_argument('--clip-len', type=int, default=16)
    parser.add_argument('--frame-interval', type=int, default=4)
    parser.add_argument('--no-decode', action='store_true', help='only check that files exist')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--out', help='also write the report as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    root = args.root
    join = (lambda p: p if os.path.isabs(p) else os.path.join(root, p))
    anns = [join(a) for a in args.ann] if args.ann else [
        p for p in (join('annotations/ava_train_v2.2_min.json'),
                    join('annotations/ava_val_v2.2_min.json')) if os.path.isfile(p)]
    checker = Checker()
    if not anns:
        checker.add(f'{join("annotations")}: no ava_{{train,val}}_v2.2_min.json '
                    f'(make them with tools/data/ava/csv_to_min_json.py)')
    data: Dict[str, Optional[dict]] = {a: checker.load_min_json(a) for a in anns}

    dets = join(args.dets) if args.dets else join('boxes/ava_val_det_person_bbox.json')
    if args.dets or os.path.isfile(dets):
        dets_ann = join(args.dets_ann) if args.dets_ann else next(
            (a for a in anns if 'val' in os.path.basename(a)), anns[-1] if anns else None)
        checker.check_dets(dets, dets_ann, data.get(dets_ann))
    for ann in anns:
        csv_path = ann.replace('_min.json', '.csv')
        if ann.endswith('_min.json') and os.path.isfile(csv_path):
            checker.check_csv(csv_path, data[ann], ann)

    layout = make_layout(args.layout, root, clip_dir=args.clip_dir, clip_fps=args.clip_fps,
                         frame_dir=args.frame_dir, video_dir=args.video_dir)
    needed, reported = {}, set()
    n_keyframes = 0
    for ann, d in data.items():
        for img in (d or {}).get('images', []):
            n_keyframes += 1
            times = sampling_times(int(img['timestamp']), args.clip_len, args.frame_interval, 25.0)
            missing = {p for _, p in layout.missing(img['movie'], int(img['timestamp']), times)}
            for sec, path in layout.needed(img['movie'], int(img['timestamp']), times):
                if path in missing:
                    if path not in reported:
                        reported.add(path)
                        checker.add(f'missing: movie {img["movie"]} second {sec}: {path} '
                                    f'(needed by keyframe {int(img["timestamp"]):04d} of '
                                    f'{os.path.basename(ann)})')
                else:
                    needed[path] = sec
    verified = 0
    if not args.no_decode and args.layout != 'frames' and needed:
        expected = args.clip_fps if args.layout == 'clips' else None
        jobs = [(p, expected) for p in sorted(needed)]
        pool = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
        results = pool.map(_verify, jobs, chunksize=16) if pool else map(_verify, jobs)
        try:
            for path, problem in tqdm(results, total=len(jobs), desc='decoding', unit='clip'):
                verified += 1
                if problem:
                    checker.add(f'undecodable: {path}: {problem}')
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    for p in checker.problems:
        print(p)
    summary = (f'{n_keyframes} keyframes in {len(anns)} annotation file(s), {len(needed)} '
               f'video files present, {verified} decoded: {len(checker.problems)} problem(s)')
    print(('FAILED: ' if checker.problems else 'OK: ') + summary)
    if args.out:
        atomic_write_text(args.out, json.dumps(dict(problems=checker.problems, summary=summary),
                                               indent=1))
    return 1 if checker.problems else 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
