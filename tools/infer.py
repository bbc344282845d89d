"""Detect people and their actions on a video of your own, a camera or a stream.

    python tools/infer.py SOURCE --config CFG --checkpoint CKPT --out out.mp4 \\
        [--csv out.csv] [--json out.json] [--detector hog|fasterrcnn|file] [--boxes FILE] \\
        [--threshold 0.3] [--keyframe-interval 1.0] [--device cpu] \\
        [--fps N] [--realtime auto|on|off] [--show] [--log-interval 5] \
        [--batch-size 4] [--precision fp32|bf16|auto]

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
"""
import argparse
import os
import queue
import sys
import threading
import time
from pathlib import Path

import torch
from tqdm import tqdm

from videomae_det.apis import (build_person_detector, count_keyframes, detect_video,
                               init_detector, label_names_of, write_ava_csv,
                               write_results_json)
from videomae_det.apis.action_names import AVA_ACTION_NAMES
from videomae_det.apis.inference import StreamStats
from videomae_det.apis.sources import FileSource, open_source
from videomae_det.datasets.video_io import VideoDecodeError
from videomae_det.models.weights import UnsafeCheckpointError
from videomae_det.utils.precision import PRECISIONS, in_precision, resolve_precision
from videomae_det.visualization import StreamingVideoWriter, draw_detections


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('video', metavar='SOURCE',
                   help='a video file (mp4, avi, mkv, ...), a camera index (0), a stream URL '
                   '(rtsp://, http://, ...) or a folder of frames (with --fps)')
    p.add_argument('--config', required=True, help='model config (e.g. configs/ava/vit_b.py)')
    p.add_argument('--checkpoint', required=True, help='trained detector checkpoint (ours, '
                   'or a released one as downloaded with its configs/ava/zoo config)')
    p.add_argument('--partial-load', action='store_true',
                   help='load the keys that fit and report the rest instead of refusing a '
                   'checkpoint that does not match the config')
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
    p.add_argument('--det-score-thr', type=float, default=None,
                   help='minimum person score (default: hog 0.5, fasterrcnn 0.8, file 0)')
    p.add_argument('--threshold', type=float, default=0.3,
                   help='actions scoring at least this are drawn and listed (default 0.3)')
    p.add_argument('--keyframe-interval', type=float, default=1.0,
                   help='seconds between keyframes (default 1, as AVA)')
    p.add_argument('--video-id', help='video id of the results (default: the file stem)')
    p.add_argument('--time-offset', type=float, default=0.0,
                   help='seconds added to timestamps (movie time of the first frame)')
    p.add_argument('--max-actions', type=int, default=3, help='labels drawn per person')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--batch-size', type=int, default=4,
                   help='keyframe clips per forward (default 4; results do not depend on it)')
    p.add_argument('--precision', choices=PRECISIONS, default='fp32',
                   help='bf16: bfloat16 autocast; auto: bf16 where the device has native bf16 '
                   '(CUDA, CPUs with AVX512-BF16/AMX), else fp32 (default: fp32)')
    p.add_argument('--fps', type=float, help='frame rate of a folder of frames')
    p.add_argument('--realtime', choices=('auto', 'on', 'off'), default='auto',
                   help='drop frames/keyframes the model has no time for, keyframes on the '
                   'wall clock (auto: on for cameras and stream URLs)')
    p.add_argument('--show', action='store_true', help='show the annotated frames in a window '
                   '(q or Esc stops)')
    p.add_argument('--log-interval', type=float, default=5.0,
                   help='seconds between progress lines for live sources (default 5)')
    args = p.parse_args(argv)
    if not (args.out or args.csv or args.json):
        p.error('nothing to write: give --out, --csv and/or --json')
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
                                        self.max_actions, result.person_scores))
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                self.error = e


def run(args: argparse.Namespace) -> int:
    """Build the model and person detector of ``args``, infer, report; the exit status."""
    model = init_detector(args.config, args.checkpoint, device=args.device,
                          partial_load=args.partial_load)
    if resolve_precision(args.precision, args.device) != 'fp32':
        model.test_step = in_precision(model.test_step, args.precision, args.device)
    detector = build_person_detector(args.detector, boxes=args.boxes,
                                     boxes_images=args.boxes_images,
                                     weights=args.detector_weights,
                                     score_thr=args.det_score_thr, device=args.device)
    stats = infer_video(args, model, detector)
    print(f'{stats["keyframes"]} keyframes, {stats["frames"]} frames in '
          f'{stats["seconds"]:.1f} s: {stats["frames"] / max(stats["seconds"], 1e-9):.1f} '
          f'frames/s ({stats["keyframes"] / max(stats["seconds"], 1e-9):.2f} keyframes/s)')
    print(stats['stream'].line())
    for name in ('out', 'csv', 'json'):
        if getattr(args, name):
            print(f'wrote {getattr(args, name)}')
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
                                    self.max_actions, result.person_scores)
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
    label_names = label_names_of(model.cfg)
    names = {**AVA_ACTION_NAMES, **label_names}
    source = open_source(args.video, args.fps)
    video_id = args.video_id or source.video_id
    if getattr(detector, 'video_ids', None) is not None and video_id not in detector.video_ids:
        shown = ', '.join(detector.video_ids[:5])
        raise SystemExit(f'error: {args.boxes} has no boxes for video id {video_id!r} '
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
    bar = tqdm(total=total, unit='keyframe', desc=Path(str(args.video)).name,
               disable=getattr(source, 'live', False))
    gen = detect_video(model, source, detector, args.keyframe_interval, args.threshold,
                       video_id=video_id, time_offset=args.time_offset,
                       action_ids=label_names.keys(),
                       with_frames=drawer is not None or preview is not None,
                       realtime=realtime, stats=stream_stats, batch_size=args.batch_size)
    try:
        for result in gen:
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
                keyframe_interval=args.keyframe_interval, threshold=args.threshold,
                complete=error is None and not interrupted, interrupted=interrupted,
                stream=stream_stats.summary())
    if args.csv:
        write_ava_csv(args.csv, results, label_names.keys())
    if args.json:
        write_results_json(args.json, results, names, meta)
    frames_done = num_frames or (results[-1].frame_index + 1 if results else 0)
    return dict(keyframes=len(results), frames=frames_done, seconds=elapsed, error=error,
                interrupted=interrupted, stream=stream_stats)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except (VideoDecodeError, FileNotFoundError, ValueError, UnsafeCheckpointError) as e:
        # our errors name the file and what is wrong; a traceback adds nothing
        print(f'error: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
