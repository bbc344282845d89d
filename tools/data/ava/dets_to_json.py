"""Person detections (CSV or COCO results) -> ``boxes/ava_val_det_person_bbox.json``.

    python tools/data/ava/dets_to_json.py person_boxes.csv \\
        --ann data/ava/annotations/ava_val_v2.2_min.json \\
        --out data/ava/boxes/ava_val_det_person_bbox.json

Inputs: a CSV ``video_id,timestamp,x1,y1,x2,y2[,action_id],score`` with normalised boxes, or
a COCO results JSON ``[{image_id, bbox: [x, y, w, h] pixels, score[, category_id]}]``
(non-person categories dropped). The output uses the image ids and sizes of ``--ann`` and
keeps every score (the dataset applies the threshold).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from a source checkout

from videomae_det.datasets.ava_format import (AVAFormatError, keyframe_image_ids,  # noqa: E402
                                              load_json, read_detection_csv, write_json)
from videomae_det.utils import cli  # noqa: E402


def convert(dets_path: str, min_json: dict):
    """-> (COCO results list, number of detections on keyframes absent from ``min_json``)."""
    ids = keyframe_image_ids(min_json)
    sizes = {img['id']: (img['width'], img['height']) for img in min_json['images']}
    results, unmatched = [], 0
    if dets_path.endswith('.csv'):
        for (movie, t), boxes in read_detection_csv(dets_path).items():
            img_id = ids.get((movie, t))
            if img_id is None:
                unmatched += len(boxes)
                continue
            w, h = sizes[img_id]
            for (x1, y1, x2, y2), score in boxes:
                results.append(dict(image_id=img_id, category_id=1, score=score,
                                    bbox=[x1 * w, y1 * h, (x2 - x1) * w, (y2 - y1) * h]))
    else:
        dets = load_json(dets_path)
        if not isinstance(dets, list):
            raise AVAFormatError(f'{dets_path}: expected a COCO results list')
        for i, d in enumerate(dets):
            missing = [k for k in ('image_id', 'bbox', 'score') if k not in d]
            if missing:
                raise AVAFormatError(f'{dets_path}: detection #{i} lacks key(s) {missing}')
            if len(d['bbox']) != 4:
                raise AVAFormatError(f'{dets_path}: detection #{i} bbox is not [x, y, w, h]')
            if d.get('category_id', 1) != 1:
                continue
            if d['image_id'] not in sizes:
                unmatched += 1
                continue
            results.append(dict(image_id=d['image_id'], category_id=1, score=float(d['score']),
                                bbox=[float(v) for v in d['bbox']]))
    results.sort(key=lambda r: (r['image_id'], -r['score']))
    return results, unmatched


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('dets', help='detections: .csv (normalised boxes) or COCO results .json')
    parser.add_argument('--ann', required=True, help='the split\'s *_min.json (ids and sizes)')
    parser.add_argument('--out', required=True, help='output JSON')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        results, unmatched = convert(args.dets, load_json(args.ann))
    except (AVAFormatError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    write_json(args.out, results)
    print(f'{args.out}: {len(results)} person boxes'
          + (f'; {unmatched} on keyframes absent from {args.ann} dropped' if unmatched else ''))
    return 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
