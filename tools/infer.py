"""Detect people and their actions on a video of your own, a camera or a stream.

    python tools/infer.py SOURCE --config CFG --checkpoint CKPT --out out.mp4 \\
        [--csv out.csv] [--json out.json] [--detector hog|fasterrcnn|file] [--boxes FILE] \\
        [--threshold 0.3] [--keyframe-interval 1.0] [--device cpu] \\
        [--fps N] [--realtime auto|on|off] [--show] [--log-interval 5] \\
        [--track] [--tracks-csv tracks.csv] [--smooth-scores N] \\
        [--segments segments.json] [--segments segments.csv] [--srt out.srt] \\
        [--timeline timeline.png] [--segment-threshold T] [--min-segment S] \\
        [--backend pytorch|onnxruntime --onnx model.onnx] [--batch-size 4] \\
        [--precision fp32|bf16|auto]

SOURCE is a video file, a camera index (``0``), a stream URL (``rtsp://``, ``http://``,
...) or a folder of frames (give ``--fps``). Writes an annotated copy of the video (every
frame read, same size; each keyframe's boxes and top actions stay on screen until the next
keyframe), the results as an AVA result CSV (video id = file stem, timestamps in seconds)
and as JSON. Live sources (camera, URL) run in realtime mode by default: frames and
keyframes the model has no time for are dropped, and a log line every ``--log-interval``
seconds reports input fps, keyframes/s, drops and latency. If the video is truncated or
corrupt, everything decoded up to the bad frame is still written, then the error is
reported and the exit status is 1. Ctrl-C (or ``q`` in the ``--show`` window) stops: the
results so far are written, marked incomplete (``meta.complete: false``), exit status 130.

``--track`` (implied by the track and segment outputs) links people across keyframes into
tracks (``videomae_det.tracking``): ids go into the JSON, the tracks CSV and onto the
video; ``--smooth-scores N`` averages action scores over a track's last N keyframes. Action
segments per track (``track, action, start_s, end_s, mean_score, peak_score``) go to
``--segments`` (.json/.csv), ``--srt`` (subtitles) and ``--timeline`` (PNG).

``--backend onnxruntime --onnx FILE`` runs the backbone and head from a
``tools/export_onnx.py`` file in ONNX Runtime (the checkpoint is then optional); the rest
of the chain is the same code as the PyTorch backend's.
"""
import argparse
import os
import queue
import sys
import threading
import time
from pathlib import Path

import torch

from videomae_det.apis import (build_person_detector, count_keyframes, detect_video,
                               init_detector, label_names_of, write_ava_csv,
                               write_results_json)
from videomae_det.apis.inference import StreamStats, top_actions
from videomae_det.apis.onnx_backend import OnnxRuntimeDetector
from videomae_det.apis.results import write_tracks_csv
from videomae_det.apis.sources import FileSource, open_source
from videomae_det.datasets.video_io import VideoDecodeError
from videomae_det.tracking import (KeyframeTracker, TrackScoreSmoother, track_segments,
                                   tracks_from_results, write_segments, write_srt,
                                   write_timeline)
from videomae_det.utils import cli
from videomae_det.utils.precision import PRECISIONS, in_precision, resolve_precision
from videomae_det.utils.progress import progress_bar
from videomae_det.visualization import StreamingVideoWriter, draw_detections


def parse_args(argv=None) -> argparse.Namespace:
    p = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('video', metavar='SOURCE',
                   help='a video file (mp4, avi, mkv, ...), a camera index (0), a stream URL '
                   '(rtsp://, http://, ...) or a folder of frames (with --fps)')
    p.add_argument('--config', required=True, help='model config (e.g. configs/ava/vit_b.py)')
    p.add_argument('--checkpoint', help='trained detector checkpoint (ours, or a released '
                   'one as downloaded with its configs/ava/zoo config); required unless '
                   '--backend onnxruntime')
    p.add_argument('--partial-load', action='store_true',
                   help='load the keys that fit and report the rest instead of refusing a '
                   'checkpoint that does not match the config')
    p.add_argument('--backend', choices=('pytorch', 'onnxruntime'), default='pytorch',
                   help='what runs the model (default pytorch)')
    p.add_argument('--onnx', help='tools/export_onnx.py file for --backend onnxruntime')
    p.add_argument('--out', help='annotated video to write (.mp4)')
    p.add_argument('--csv', help='AVA result CSV to write')
    p.add_argument('--json', help='JSON results to write')
    p.add_argument('--detector', choices=('hog', 'fasterrcnn', 'file'), default='hog',
                   help='where person boxes come from (default: OpenCV HOG, no download)')
    p.add_argument('--boxes', help='boxes file for --detector file (AVA CSV, JSON or '
                   'mmaction2 proposals .pkl)')
    p.add_argument('--boxes-images',
                   help='*_min.json resolving the image ids of a COCO results --boxes file')
    p.add_argument('--detector-weights', help='fasterrcnn_resnet50_fpn weights for --detector '
                   'fasterrcnn')
    p.add_argument('--det-score-thr', type=cli.unit_interval, default=None,
                   help='minimum person score (default: hog 0.5, fasterrcnn 0.8, file 0)')
    p.add_argument('--threshold', type=cli.unit_interval, default=0.3,
                   help='actions scoring at least this are drawn and listed (default 0.3)')
    p.add_argument('--keyframe-interval', type=cli.positive, default=1.0,
                   help='seconds between keyframes (default 1, as AVA)')
    p.add_argument('--video-id', help='video id of the results (default: the file stem)')
    p.add_argument('--time-offset', type=cli.finite_float, default=0.0,
                   help='seconds added to timestamps (movie time of the first frame)')
    p.add_argument('--max-actions', type=cli.positive_int, default=3,
                   help='labels drawn per person')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--batch-size', type=int, default=4,
                   help='keyframe clips per forward (default 4; results do not depend on it)')
    p.add_argument('--precision', choices=PRECISIONS, default='fp32',
                   help='bf16: bfloat16 autocast; auto: bf16 where the device has native bf16 '
                   '(CUDA, CPUs with AVX512-BF16/AMX), else fp32 (default: fp32)')
    p.add_argument('--fps', type=cli.positive, help='frame rate of a folder of frames')
    p.add_argument('--realtime', choices=('auto', 'on', 'off'), default='auto',
                   help='drop frames/keyframes the model has no time for, keyframes on the '
                   'wall clock (auto: on for cameras and stream URLs)')
    p.add_argument('--show', action='store_true', help='show the annotated frames in a window '
                   '(q or Esc stops)')
    p.add_argument('--log-interval', type=cli.non_negative, default=5.0,
                   help='seconds between progress lines for live sources (default 5)')
    p.add_argument('--track', action='store_true', help='link people into tracks (ids in the '
                   'JSON and on the video)')
    p.add_argument('--tracks-csv', help='CSV of tracked people per keyframe to write')
    p.add_argument('--smooth-scores', type=int, default=0, metavar='N',
                   help="action scores = mean over the track's last N keyframes (0: raw)")
    p.add_argument('--segments', action='append', default=[],
                   help='action segments to write (.json or .csv; may be repeated)')
    p.add_argument('--srt', help='subtitle file of the action segments to write')
    p.add_argument('--timeline', help='timeline PNG of the action segments to write')
    p.add_argument('--segment-threshold', type=cli.unit_interval, default=None,
                   help='score an action needs on a keyframe to be in a segment '
                   '(default: --threshold)')
    p.add_argument('--min-segment', type=float, default=0.0,
                   help='shortest segment kept, seconds (default 0: one keyframe interval '
                   'is the shortest there is)')
    args = p.parse_args(argv)
    args.track = bool(args.track or args.tracks_csv or args.segments or args.srt or args.timeline
                      or args.smooth_scores > 1)
    for path in args.segments:
        if Path(path).suffix.lower() not in ('.json', '.csv'):
            p.error(f'--segments {path}: write .json or .csv')
    if not (args.out or args.csv or args.json or args.tracks_csv or args.segments or args.srt
            or args.timeline):
        p.error('nothing to write: give --out, --csv and/or --json')
    if args.backend == 'onnxruntime' and not args.onnx:
        p.error('--backend onnxruntime needs --onnx FILE (from tools/export_onnx.py)')
    if args.backend == 'pytorch' and not args.checkpoint:
        p.error('--checkpoint is required (unless --backend onnxruntime)')
    if args.detector == 'file' and not args.boxes:
        p.error('--detector file needs --boxes')
    if args.batch_size < 1:
        p.error(f'--batch-size must be at least 1; got {args.batch_size}')
    if args.detector == 'fasterrcnn' and not args.detector_weights:
        p.error('--detector fasterrcnn needs --detector-weights')
    return args


class _DrawingWriter(threading.Thread):
    """Draws each keyframe's results on its frames and encodes them, off the model's thread."""

    def __init__(self, writer: StreamingVideoWriter, names, max_actions: int):
        super().__init__(name='videomae-det-writer', daemon=True)
        self.writer, self.names, self.max_actions = writer, names, max_actions
        self.inbox: queue.Queue = queue.Queue(maxsize=2)
        self.error = None

    def run(self):
        while True:
            item = self.inbox.get()
            if item is None:
                return
            if self.error is not None:
                continue  # drain so the producer never blocks
            result, frames = item
            try:
                for _, frame in frames:
                    self.writer.write(
                        draw_detections(frame, result.boxes, result.actions, self.names,
                                        self.max_actions, result.person_scores,
                                        result.track_ids))
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                self.error = e


def run(args: argparse.Namespace) -> int:
    """Build the model and person detector of ``args``, infer, report; the exit status."""
    cli.check_outputs({'--out': args.out, '--csv': args.csv, '--json': args.json,
                       '--tracks-csv': args.tracks_csv, '--srt': args.srt,
                       '--timeline': args.timeline,
                       **{f'--segments #{n + 1}': path
                          for n, path in enumerate(args.segments)}},
                      {'video': args.video, '--config': args.config,
                       '--checkpoint': args.checkpoint, '--boxes': args.boxes,
                       '--boxes-images': args.boxes_images,
                       '--detector-weights': args.detector_weights,
                       '--onnx': getattr(args, 'onnx', None)})
    model = init_detector(args.config, args.checkpoint, device=args.device,
                          partial_load=args.partial_load)
    if args.backend == 'pytorch' and resolve_precision(args.precision, args.device) != 'fp32':
        model.test_step = in_precision(model.test_step, args.precision, args.device)
    if args.backend == 'onnxruntime':
        model = OnnxRuntimeDetector(model, args.onnx)
    detector = build_person_detector(args.detector, boxes=args.boxes,
                                     boxes_images=args.boxes_images,
                                     weights=args.detector_weights,
                                     score_thr=args.det_score_thr, device=args.device)
    stats = infer_video(args, model, detector)
    print(f'{stats["keyframes"]} keyframes, {stats["frames"]} frames in '
          f'{stats["seconds"]:.1f} s: {stats["frames"] / max(stats["seconds"], 1e-9):.1f} '
          f'frames/s ({stats["keyframes"] / max(stats["seconds"], 1e-9):.2f} keyframes/s)')
    print(stats['stream'].line())
    for path in [args.out, args.csv, args.json, args.tracks_csv, *args.segments, args.srt,
                 args.timeline]:
        if path:
            print(f'wrote {path}')
    if stats['interrupted']:
        print('interrupted: the results so far are written, marked incomplete',
              file=sys.stderr)
        return 130
    if stats['error'] is not None:
        print(f'error: {stats["error"]}', file=sys.stderr)
        return 1
    return 0


class _Preview:
    """The ``--show`` window: draws each result on its frames and shows them."""

    WINDOW = 'videomae-det'

    def __init__(self, names, max_actions: int):
        if sys.platform.startswith('linux') and not (os.environ.get('DISPLAY')
                                                     or os.environ.get('WAYLAND_DISPLAY')):
            raise ValueError('--show needs a display (DISPLAY is not set); run without --show '
                             'and watch --out instead')
        import cv2
        self.cv2, self.names, self.max_actions = cv2, names, max_actions

    def show(self, result, frames) -> bool:
        """Show ``frames`` with ``result`` drawn; False when the user asks to stop."""
        for _, frame in frames or []:
            drawn = draw_detections(frame, result.boxes, result.actions, self.names,
                                    self.max_actions, result.person_scores, result.track_ids)
            self.cv2.imshow(self.WINDOW, self.cv2.cvtColor(drawn, self.cv2.COLOR_RGB2BGR))
            if self.cv2.waitKey(1) & 0xFF in (ord('q'), 27):
                return False
        return True

    def close(self) -> None:
        self.cv2.destroyAllWindows()


def infer_video(args: argparse.Namespace, model, detector) -> dict:
    """Run ``model`` with ``detector`` on ``args.video`` and write the outputs ``args`` asks
    for. Returns ``dict(keyframes, frames, seconds, error)``: counts done, wall time from the
    first decoded frame to the last written one, and the decode error that cut the video
    short (None when complete); other errors are raised."""
    label_names = label_names_of(model.cfg, model.action_classes)
    names = {**model.action_classes.names, **label_names}
    source = open_source(args.video, args.fps)
    video_id = args.video_id or source.video_id
    if getattr(detector, 'video_ids', None) is not None and video_id not in detector.video_ids:
        shown = ', '.join(detector.video_ids[:5])
        raise cli.UsageError(f'{args.boxes} has no boxes for video id {video_id!r} '
                         f'(it has: {shown}{", ..." if len(detector.video_ids) > 5 else ""}); '
                         f'pass --video-id')
    realtime = None if args.realtime == 'auto' else args.realtime == 'on'
    preview = _Preview(names, args.max_actions) if args.show else None

    drawer = None
    if args.out:
        drawer = _DrawingWriter(StreamingVideoWriter(args.out, source.fps,
                                                     (source.width, source.height)),
                                names, args.max_actions)
        drawer.start()
    results, error, interrupted = [], None, False
    start = last_log = time.perf_counter()
    stream_stats = StreamStats()
    total = (count_keyframes(args.video, model, args.keyframe_interval)
             if isinstance(source, FileSource) else None)
    bar = progress_bar(total=total, unit='keyframe', desc=Path(str(args.video)).name,
                       disable=True if getattr(source, 'live', False) else None)
    gen = detect_video(model, source, detector, args.keyframe_interval, args.threshold,
                       video_id=video_id, time_offset=args.time_offset,
                       action_ids=label_names.keys(),
                       with_frames=drawer is not None or preview is not None,
                       realtime=realtime, stats=stream_stats, batch_size=args.batch_size)
    tracker = KeyframeTracker() if args.track else None
    smoother = TrackScoreSmoother(args.smooth_scores)
    try:
        for result in gen:
            if tracker is not None:
                result.track_ids = tracker.update(result.boxes, result.person_scores,
                                                  result.timestamp)
                if args.smooth_scores > 1:
                    result.action_scores = smoother.update(result.track_ids,
                                                           result.action_scores)
                    result.actions = top_actions(result.action_scores, args.threshold,
                                                 label_names.keys(), result.column_ids())
            if drawer is not None:
                if drawer.error is not None:
                    raise drawer.error
                drawer.inbox.put((result, result.frames))
            if preview is not None and not preview.show(result, result.frames):
                raise KeyboardInterrupt
            result.frames = None  # the writer holds them; keep only the numbers
            results.append(result)
            bar.update(1)
            if stream_stats.realtime and time.perf_counter() - last_log >= args.log_interval:
                last_log = time.perf_counter()
                print(stream_stats.line(), flush=True)
    except VideoDecodeError as e:  # write what was decoded, then report
        error = e
    except KeyboardInterrupt:  # stop cleanly: what is done is written, marked incomplete
        interrupted = True
    except BaseException:
        if drawer is not None:
            drawer.inbox.put(None)
            drawer.join()
            drawer.writer.abort()
        raise
    finally:
        gen.close()
        bar.close()
        if preview is not None:
            preview.close()
    num_frames = 0
    if drawer is not None:
        drawer.inbox.put(None)
        drawer.join()
        if drawer.error is not None:
            drawer.writer.abort()
            raise drawer.error
        drawer.writer.close()
        num_frames = drawer.writer.num_frames
    elapsed = time.perf_counter() - start
    meta = dict(video=str(args.video), video_id=video_id, fps=source.fps,
                width=source.width, height=source.height, config=str(args.config),
                checkpoint=str(args.checkpoint), detector=args.detector,
                backend=args.backend, onnx=args.onnx,
                keyframe_interval=args.keyframe_interval, threshold=args.threshold,
                complete=error is None and not interrupted, interrupted=interrupted,
                stream=stream_stats.summary())
    if tracker is not None:
        meta.update(tracker=vars(tracker.config), smooth_scores=args.smooth_scores)
    if args.csv:
        write_ava_csv(args.csv, results, label_names.keys())
    if args.json:
        write_results_json(args.json, results, names, meta)
    if args.tracks_csv:
        write_tracks_csv(args.tracks_csv, results, names)
    if args.segments or args.srt or args.timeline:
        write_segment_outputs(args, results, tracker, label_names, meta)
    frames_done = num_frames or (results[-1].frame_index + 1 if results else 0)
    return dict(keyframes=len(results), frames=frames_done, seconds=elapsed, error=error,
                interrupted=interrupted, stream=stream_stats)


def write_segment_outputs(args, results, tracker, label_names, meta) -> None:
    """Action segments of the confirmed tracks -> ``--segments``, ``--srt``, ``--timeline``."""
    confirmed = tracker.confirmed_ids()
    tracks = {t: v for t, v in tracks_from_results(results).items() if t in confirmed}
    threshold = args.threshold if args.segment_threshold is None else args.segment_threshold
    segments = track_segments(tracks, label_names.keys(), threshold, args.keyframe_interval,
                              args.min_segment, names=label_names)
    seg_meta = dict(video_id=meta['video_id'], threshold=threshold,
                    min_segment_s=args.min_segment, keyframe_interval=args.keyframe_interval,
                    smooth_scores=args.smooth_scores, complete=meta['complete'])
    for path in args.segments:
        write_segments(path, segments, seg_meta)
    if args.srt:
        write_srt(args.srt, segments, time_offset=args.time_offset)
    if args.timeline:
        end = (results[-1].timestamp + args.keyframe_interval / 2) if results else None
        write_timeline(args.timeline, segments, duration=end,
                       title=f'{meta["video_id"]}: action segments per track')


def main(argv=None) -> int:
    # errors (a missing file, an unsafe checkpoint, ...) become one message: utils/cli.py
    return cli.run(lambda argv: run(parse_args(argv)), argv)


if __name__ == '__main__':
    sys.exit(main())
