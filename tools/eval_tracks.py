"""Tracking and action-segment quality on a dataset whose ground truth knows identities
(mini-AVA's val movies; real AVA's person ids are per clip, not per movie).

    python tools/eval_tracks.py --data-root data/mini_ava \\
        [--results work_dirs/quickstart/detector/val_results.csv] [--out tracks_eval.json]

Runs the keyframe tracker (``videomae_det.tracking``) on the val person detections
(``boxes/ava_val_det_person_bbox.json``, every score: ByteTrack uses the low ones too) and
scores it against the ground truth's person ids with motmetrics at IoU 0.5: IDF1, MOTA, ID
switches. With ``--results`` (an AVA result CSV of the same val keyframes, e.g.
``tools/test.py``'s ``val_results.csv``), each tracked box takes the action scores of the
result box on it, and the predicted action segments are compared with the true ones
(temporal IoU). Prints a table and writes a JSON report with ``--out``.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

from videomae_det.formats import (AVAFormatError, load_min_json, read_detections,
                                  read_ground_truth_csv, read_label_map,
                                  read_person_detections)
from videomae_det.tracking.evaluation import (MovieKeyframes, identity_map, mot_metrics,
                                              segment_quality, track_movie, true_segments)
from videomae_det.tracking.segments import track_segments
from videomae_det.tracking.tracker import ByteTrackConfig, TrackScoreSmoother, box_iou
from videomae_det.utils.atomic import atomic_write_text


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data-root', default='data/mini_ava')
    p.add_argument('--split', default='val')
    p.add_argument('--gt', help='ground-truth CSV (default: annotations/ava_<split>_v2.2.csv)')
    p.add_argument('--min-json', help='default: annotations/ava_<split>_v2.2_min.json')
    p.add_argument('--boxes', help='person detections (default: '
                   'boxes/ava_<split>_det_person_bbox.json)')
    p.add_argument('--label-map', help='default: the pbtxt under annotations/')
    p.add_argument('--results', help='AVA result CSV of the same keyframes (segment quality)')
    p.add_argument('--iou', type=float, default=0.5, help='box match IoU (default 0.5)')
    p.add_argument('--all-tracks', action='store_true',
                   help='score every track, also those seen on a single keyframe')
    p.add_argument('--segment-threshold', type=float, default=0.5)
    p.add_argument('--min-segment', type=float, default=0.0, help='seconds')
    p.add_argument('--smooth-scores', type=int, default=0,
                   help='mean of the last N keyframes of a track (0 = raw)')
    p.add_argument('--out', help='JSON report to write')
    for name, default in vars(ByteTrackConfig()).items():
        p.add_argument(f'--{name.replace("_", "-")}', type=type(default), default=default,
                       help=f'tracker setting (default {default})')
    return p.parse_args(argv)


def load_movies(args) -> List[MovieKeyframes]:
    root = Path(args.data_root)
    gt_path = Path(args.gt or root / 'annotations' / f'ava_{args.split}_v2.2.csv')
    json_path = Path(args.min_json or root / 'annotations' / f'ava_{args.split}_v2.2_min.json')
    boxes_path = Path(args.boxes or root / 'boxes' / f'ava_{args.split}_det_person_bbox.json')
    gt = read_ground_truth_csv(gt_path)
    min_json = load_min_json(json_path)
    dets = read_person_detections(boxes_path, min_json, json_path)
    images = {(img['movie'], int(img['timestamp'])): img for img in min_json['images']}
    results = _result_scores(args.results) if args.results else None
    movies: Dict[str, List] = {}
    for key in sorted(set(images) | set(gt.keyframes)):
        movies.setdefault(key[0], []).append(key[1])
    out = []
    for movie, stamps in sorted(movies.items()):
        mk = MovieKeyframes(movie, [], [], [], [] if results is not None else None)
        for ts in sorted(stamps):
            img = images.get((movie, ts))
            if img is None:
                raise SystemExit(f'error: {json_path} has no image for {movie},{ts} of {gt_path}')
            size = np.array([img['width'], img['height']] * 2, np.float64)
            boxes = dets.boxes.get(int(img['id']), np.zeros((0, 4)))
            scores = dets.scores.get(int(img['id']), np.zeros(0))
            mk.times.append(float(ts))
            mk.dets.append((boxes, scores))
            if (movie, ts) in gt.persons or (movie, ts) in set(gt.keyframes):
                people = gt.persons.get((movie, ts), [])
                mk.gt.append((np.array([p for _, p, _ in people], np.int64),
                              np.array([b for b, _, _ in people], np.float64).reshape(-1, 4)
                              * size, [a for _, _, a in people]))
            else:
                mk.gt.append(None)  # excluded keyframe: tracked through, not scored
            if results is not None:
                mk.scores.append(_scores_for(results.get((movie, ts)), boxes / size))
        out.append(mk)
    return out


def _result_scores(path):
    """(movie, ts) -> (boxes (B, 4) normalised, scores (B, 80)) from an AVA result CSV."""
    rows = read_detections(path)
    boxes = rows.row_boxes()
    out: Dict = {}
    for k, key in enumerate(rows.keys):
        sel = np.nonzero(rows.key_index == k)[0]
        uniq, inv = np.unique(np.round(boxes[sel], 4), axis=0, return_inverse=True)
        scores = np.zeros((len(uniq), 80))
        scores[inv.reshape(-1), rows.labels[sel] - 1] = rows.scores[sel]
        out[(key[0], int(key[1]))] = (uniq, scores)
    return out


def _scores_for(result, boxes_norm):
    """Action scores (M, 80) of the detections: those of the result box on each (IoU ≥
    0.9, the CSV's 4 decimals), zeros for a detection the model did not score."""
    scores = np.zeros((len(boxes_norm), 80))
    if result is None or not len(boxes_norm):
        return scores
    m = box_iou(boxes_norm, result[0])
    for d in range(len(boxes_norm)):
        j = int(np.argmax(m[d])) if m.shape[1] else -1
        if j >= 0 and m[d, j] >= 0.9:
            scores[d] = result[1][j]
    return scores


def main(argv=None) -> int:
    args = parse_args(argv)
    config = ByteTrackConfig(**{k: getattr(args, k) for k in vars(ByteTrackConfig())})
    try:
        movies = load_movies(args)
    except (AVAFormatError, FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    ids = [track_movie(m, config, confirmed_only=not args.all_tracks) for m in movies]
    mot = mot_metrics(movies, ids, args.iou)
    report = dict(config=vars(config), split=args.split, data_root=str(args.data_root),
                  movies=len(movies), keyframes=sum(len(m.times) for m in movies),
                  confirmed_only=not args.all_tracks, mot=mot)
    o = mot['OVERALL']
    print(f'{len(movies)} movies, {report["keyframes"]} keyframes, {o["num_objects"]} true '
          f'boxes of {o["num_unique_objects"]} people')
    print(f'IDF1 {o["idf1"]:.3f}  MOTA {o["mota"]:.3f}  ID switches {o["num_switches"]}  '
          f'misses {o["num_misses"]}  false positives {o["num_false_positives"]}')
    if args.results:
        root = Path(args.data_root)
        label_map = Path(args.label_map) if args.label_map else next(
            (root / 'annotations').glob('*.pbtxt'))
        actions = sorted(read_label_map(label_map))
        interval = float(np.median(np.diff(movies[0].times))) if len(movies[0].times) > 1 else 1.
        pred, truth, mapping = {}, {}, {}
        for m, tid in zip(movies, ids):
            per_track: Dict[int, list] = {}
            smoother = TrackScoreSmoother(args.smooth_scores)  # as tools/infer.py does
            for t, k, s in zip(m.times, tid, m.scores):
                s = smoother.update(k, s)
                for d, track in enumerate(k):
                    if track >= 0:
                        per_track.setdefault(int(track), []).append((t, s[d]))
            tracks = {tr: ([t for t, _ in v], np.stack([s for _, s in v]))
                      for tr, v in per_track.items()}
            pred[m.movie] = track_segments(tracks, actions, args.segment_threshold, interval,
                                           args.min_segment)
            truth[m.movie] = true_segments(m, actions, interval)
            mapping[m.movie] = identity_map(m, tid, args.iou)
        seg = segment_quality(pred, truth, mapping)
        report['segments'] = dict(seg, threshold=args.segment_threshold,
                                  min_segment=args.min_segment,
                                  smooth_scores=args.smooth_scores, results=args.results)
        print(f'segments: {seg["true_segments"]} true, {seg["predicted_segments"]} predicted; '
              f'mean temporal IoU {seg["mean_tiou"]:.3f}, recall@0.5 {seg["recall_at_05"]:.3f}, '
              f'precision@0.5 {seg["precision_at_05"]:.3f}')
    if args.out:
        atomic_write_text(args.out, json.dumps(report, indent=1) + '\n')
        print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
