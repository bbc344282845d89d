"""Generate mini-AVA, the synthetic dataset in the AVA layout (see docs/data.md).

    python tools/data/make_mini_ava.py                      # data/mini_ava, default size
    python tools/data/make_mini_ava.py OUT_DIR --size tiny --seed 1
    python tools/data/make_mini_ava.py data/mini_custom5 --classes custom5   # own class set

Sizes (movies train/val × seconds): tiny 2/1 × 8, default 12/4 × 30, large 48/12 × 60.
Class sets: ava (12 AVA classes, AVA ids), custom5 (5 movement classes with ids 3, 17, 42,
108, 250 and names of their own), custom100 (10 behaviours × 10 shirt colours, ids 101,
104, ..., 398): the same videos for a seed, labelled differently.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a source checkout

from videomae_det.datasets.mini_ava import (CLASS_SETS, PRESETS,  # noqa: E402
                                            generate_mini_ava)
from videomae_det.utils import cli  # noqa: E402


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', nargs='?', default='data/mini_ava',
                        help='output directory (empty, new, or an earlier mini-AVA)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (same seed, same files)')
    parser.add_argument('--size', default='default', choices=sorted(PRESETS),
                        help='preset: ' + ', '.join(
                            f'{k}={v.train_movies}+{v.val_movies} movies x {v.duration}s'
                            for k, v in PRESETS.items()))
    parser.add_argument('--classes', default='ava', choices=CLASS_SETS,
                        help='class set of the labels (default ava: 12 AVA classes)')
    parser.add_argument('--workers', type=int, default=2, help='parallel render processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    try:
        info = generate_mini_ava(args.out_dir, seed=args.seed, size=args.size,
                                 workers=args.workers, progress=True,
                                 class_set=args.classes)
    except FileExistsError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'mini-AVA ({args.size}, seed {args.seed}) written to {args.out_dir} in '
          f'{time.time() - start:.1f} s: {json.dumps(info["counts"])}; classes: '
          f'{args.classes} ({len(info["classes"])})')
    return 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
