"""Person detections in any format users have -> ``boxes/ava_val_det_person_bbox.json``.

    python tools/data/ava/dets_to_json.py ava_dense_proposals_val.FAIR.recall_93.9.pkl \\
        --ann data/ava/annotations/ava_val_v2.2_min.json \\
        --out data/ava/boxes/ava_val_det_person_bbox.json

Inputs (``videomae_det.formats.detections``): a COCO results JSON ``[{image_id, bbox: [x, y,
w, h] pixels, score[, category_id]}]`` (ids must belong to ``--ann``: checked, never
reassigned); a CSV ``video_id,timestamp,x1,y1,x2,y2[,action_id],score`` with normalised
boxes (ours, PySlowFast's predicted boxes); mmaction2's proposals pickle ``{"movie,ts":
array (N, 5)}``, read without running any code from it. The output uses the image ids and
sizes of ``--ann`` plus each keyframe's ``movie`` and ``timestamp`` (checked against the id
whenever the file is read), and keeps every score (the dataset applies the threshold);
non-finite values are refused, never written.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from a source checkout

from videomae_det.formats import (AVAFormatError, load_min_json,  # noqa: E402
                                  read_person_detections, to_coco_results, write_json)
from videomae_det.utils import cli  # noqa: E402


def convert(dets_path: str, ann_path: str):
    """-> (COCO results list, number of detections on keyframes absent from ``ann_path``)."""
    min_json = load_min_json(ann_path)
    dets = read_person_detections(dets_path, min_json, ann_path)
    return to_coco_results(dets, min_json), dets.skipped


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('dets', help='detections: .json (COCO results), .csv (normalised '
                        'boxes) or .pkl (mmaction2 proposals)')
    parser.add_argument('--ann', required=True, help='the split\'s *_min.json (ids and sizes)')
    parser.add_argument('--out', required=True, help='output JSON')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        results, skipped = convert(args.dets, args.ann)
        write_json(args.out, results)
    except (AVAFormatError, ValueError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2  # bad input (tools' exit codes: videomae_det/utils/cli.py)
    print(f'{args.out}: {len(results)} person boxes'
          + (f'; {skipped} on keyframes absent from {args.ann} ignored' if skipped else ''))
    return 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
