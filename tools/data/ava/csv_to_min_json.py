"""Official AVA ground-truth CSV -> ``*_min.json`` (COCO-like, boxes in stored-frame pixels).

    python tools/data/ava/csv_to_min_json.py data/ava/annotations/ava_val_v2.2.csv \
        --clips data/ava/clips/trainval \
        --movie-list data/ava/annotations/ava_file_names_trainval_v2.1.txt
    # -> data/ava/annotations/ava_val_v2.2_min.json

Image ids are movie index × 10000 + timestamp. With ``--movie-list`` (the official
``ava_file_names_trainval_v2.1.txt``, the file VAD/AlphAction's own converter requires) a
movie's index is its line in that list, so VAD's released detection files
(``ava_val_det_person_bbox.json``) fit the JSON; without it the CSV's movies are numbered in
sorted order. The JSON records which numbering it used.

Each movie's width and height come from its own stored frames (``--clips``, ``--frames`` or
``--videos``: the same storage layouts the dataset reads, ``videomae_det.datasets.layouts``),
since AVA movies come in many resolutions. 2-column CSV rows become images without
annotations. Formats: ``videomae_det/formats/``.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from a source checkout

from videomae_det.datasets.layouts import MissingClipError, build_layout  # noqa: E402
from videomae_det.datasets.video_io import VideoDecodeError  # noqa: E402
from videomae_det.formats import (AVAFormatError, build_min_json,  # noqa: E402
                                  read_ground_truth_csv, read_movie_list, write_json)
from videomae_det.utils import cli  # noqa: E402
from videomae_det.utils.progress import progress_bar  # noqa: E402


def add_layout_args(parser: argparse.ArgumentParser) -> None:
    """``--clips DIR`` | ``--frames DIR`` | ``--videos DIR`` and their options."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument('--clips', help='1-second clips <DIR>/<movie>/<sec>.mp4')
    where.add_argument('--frames', help='frame folders (see --frame-template)')
    where.add_argument('--videos', help='one video per movie <DIR>/<movie>.<ext>')
    parser.add_argument('--frame-template', default='{movie}/img_{index:05d}.jpg',
                        help='frame names under --frames (PySlowFast: '
                        '"{movie}/{movie}_%%06d.jpg")')
    parser.add_argument('--fps', type=float, help='frame rate of the stored frames (sizes do '
                        'not depend on it)')
    parser.add_argument('--start-sec', type=float, help='movie second of the first stored '
                        'frame (--frames: 900, --videos: 0)')


def layout_from_args(args) -> dict:
    """The layout config dict of ``--clips/--frames/--videos``."""
    if args.clips:
        layout = dict(type='clips', dir=args.clips)
    elif args.frames:
        layout = dict(type='frames', dir=args.frames, template=args.frame_template)
    else:
        layout = dict(type='videos', dir=args.videos)
    if args.fps is not None:
        layout['fps'] = args.fps
    if args.start_sec is not None and layout['type'] != 'clips':
        layout['start_sec'] = args.start_sec
    return layout


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('csv', help='official ground-truth CSV (ava_{train,val}_v2.2.csv)')
    add_layout_args(parser)
    parser.add_argument('--movie-list', help='official movie list '
                        '(ava_file_names_trainval_v2.1.txt): number movies by their line, as '
                        'VAD/AlphAction do; default: sorted movies of the CSV')
    parser.add_argument('--size', help=argparse.SUPPRESS)
    parser.add_argument('--out', help='output JSON (default: <csv without .csv>_min.json)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.size:
        print('error: --size was removed: AVA movies differ in resolution, so each movie\'s '
              'size is read from its own frames (--clips/--frames/--videos)', file=sys.stderr)
        return 2
    try:
        layout = build_layout(layout_from_args(args))
        gt = read_ground_truth_csv(args.csv)
        movie_index = read_movie_list(args.movie_list) if args.movie_list else None
    except (AVAFormatError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2  # bad input (tools' exit codes: videomae_det/utils/cli.py)
    movies = sorted({m for m, _ in gt.keyframes})
    sizes, failures = {}, []
    for movie in progress_bar(movies, desc='frame sizes', unit='movie',
                              disable=True if len(movies) < 20 else None):
        try:
            sizes[movie] = layout.frame_size(movie)
        except (MissingClipError, VideoDecodeError) as e:
            failures.append(f'{movie}: {e}')
    if failures:
        print(f'error: {len(failures)} movie(s) without readable frames:\n  '
              + '\n  '.join(failures), file=sys.stderr)
        return 2
    out = args.out or (args.csv[:-4] if args.csv.endswith('.csv') else args.csv) + '_min.json'
    try:
        data = build_min_json(gt, sizes, movie_index,
                              os.path.basename(args.movie_list) if args.movie_list else None)
        write_json(out, data)
    except (AVAFormatError, ValueError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'{out}: {len(data["images"])} keyframes, {len(data["annotations"])} person boxes, '
          f'{len(sizes)} movies ({data["info"]["movie_numbering"]})')
    return 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
