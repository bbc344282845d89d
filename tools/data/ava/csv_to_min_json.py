"""Official AVA ground-truth CSV -> ``*_min.json`` (COCO-like, boxes in stored-clip pixels).

    python tools/data/ava/csv_to_min_json.py data/ava/annotations/ava_train_v2.2.csv \\
        --clips data/ava/clips/trainval
    # -> data/ava/annotations/ava_train_v2.2_min.json

The JSON needs each movie's stored clip size, read from one of its clips (``--clips``); use
``--size WxH`` instead when every movie has the same size. 2-column CSV rows become images
without annotations. Format details: ``videomae_det/formats/``.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from a source checkout

from tqdm import tqdm  # noqa: E402

from videomae_det.formats import AVAFormatError, build_min_json, read_ground_truth_csv, write_json  # noqa: E402
from videomae_det.datasets.video_io import VideoDecodeError, video_info  # noqa: E402
from videomae_det.utils import cli  # noqa: E402


def clip_size(clip_root: str, movie: str, timestamp: int):
    """(width, height) of a movie's stored clips: the keyframe's clip, else any clip."""
    movie_dir = os.path.join(clip_root, movie)
    first = os.path.join(movie_dir, f'{timestamp}.mp4')
    candidates = []
    if os.path.isdir(movie_dir):
        candidates = [first] + sorted(os.path.join(movie_dir, n) for n in os.listdir(movie_dir)
                                      if n.endswith('.mp4'))
    errors = []
    for path in candidates:
        if not os.path.isfile(path):
            continue
        try:
            info = video_info(path)
            return info.width, info.height
        except VideoDecodeError as e:
            errors.append(str(e))
            if len(errors) >= 3:
                break
    raise FileNotFoundError(f'no readable clip for movie {movie!r} under {movie_dir}'
                            + (f' ({errors[0]})' if errors else ''))


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('csv', help='official ground-truth CSV (ava_{train,val}_v2.2.csv)')
    parser.add_argument('--clips', help='clip folder <clips>/<movie>/<sec>.mp4 (for the sizes)')
    parser.add_argument('--size', help='WxH of every movie instead of reading clips, e.g. 455x256')
    parser.add_argument('--out', help='output JSON (default: <csv without .csv>_min.json)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.clips and not args.size:
        print('error: give --clips (to read each movie\'s clip size) or --size WxH',
              file=sys.stderr)
        return 2
    try:
        gt = read_ground_truth_csv(args.csv)
    except (AVAFormatError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    first_keyframe = {}
    for movie, t in gt.keyframes:
        first_keyframe.setdefault(movie, t)
    sizes, failures = {}, []
    if args.size:
        w, h = (int(v) for v in args.size.lower().split('x'))
        sizes = {m: (w, h) for m in first_keyframe}
    else:
        for movie, t in tqdm(first_keyframe.items(), desc='clip sizes', unit='movie'):
            try:
                sizes[movie] = clip_size(args.clips, movie, t)
            except FileNotFoundError as e:
                failures.append(str(e))
    if failures:
        print(f'error: {len(failures)} movie(s) without clips:\n  ' + '\n  '.join(failures),
              file=sys.stderr)
        return 1
    out = args.out or (args.csv[:-4] if args.csv.endswith('.csv') else args.csv) + '_min.json'
    data = build_min_json(gt, sizes)
    write_json(out, data)
    print(f'{out}: {len(data["images"])} keyframes, {len(data["annotations"])} person boxes, '
          f'{len(sizes)} movies')
    return 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
