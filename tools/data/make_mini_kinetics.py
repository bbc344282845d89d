"""Generate mini-Kinetics: unlabelled synthetic movies for pretraining (mini-AVA's renderer).

    python tools/data/make_mini_kinetics.py                       # data/mini_kinetics, 200 x 10 s
    python tools/data/make_mini_kinetics.py OUT_DIR --movies 500 --duration 10 --seed 1

Movies come from the mini-AVA renderer with random streams of their own (no mini-AVA movie
is ever re-rendered) and are written as ``OUT_DIR/videos/<movie>.mp4`` with no label file:
the folder-of-videos layout that ``configs/pretrain/mini_kinetics.py`` reads. Movie names of
the mini-AVA given by ``--avoid`` (default ``data/mini_ava``, when it is there) are not used.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a source checkout

from videomae_det.datasets.mini_ava import INFO_NAME  # noqa: E402
from videomae_det.datasets.mini_kinetics import (generate_mini_kinetics,  # noqa: E402
                                                 mini_ava_movies)
from videomae_det.utils import cli  # noqa: E402


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', nargs='?', default='data/mini_kinetics',
                        help='output directory (empty, new, or an earlier mini-Kinetics)')
    parser.add_argument('--movies', type=int, default=200, help='number of videos')
    parser.add_argument('--duration', type=int, default=10, help='seconds per video')
    parser.add_argument('--seed', type=int, default=0, help='random seed (same seed, same files)')
    parser.add_argument('--avoid', default='data/mini_ava',
                        help='a mini-AVA whose movie names are not to be used (skipped when '
                             'absent; default data/mini_ava)')
    parser.add_argument('--workers', type=int, default=2, help='parallel render processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.movies < 1 or args.duration < 1:
        print('error: --movies and --duration must be at least 1', file=sys.stderr)
        return 2
    avoid = mini_ava_movies(args.avoid) if (Path(args.avoid) / INFO_NAME).is_file() else []
    start = time.time()
    try:
        info = generate_mini_kinetics(args.out_dir, seed=args.seed, movies=args.movies,
                                      duration=args.duration, workers=args.workers,
                                      progress=True, avoid_movies=avoid)
    except FileExistsError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'mini-Kinetics (seed {args.seed}): {len(info["movies"]["unlabelled"])} videos of '
          f'{args.duration} s written to {Path(args.out_dir) / info["video_dir"]} in '
          f'{time.time() - start:.1f} s' + (f'; {len(avoid)} mini-AVA names avoided'
                                            if avoid else ''))
    return 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
