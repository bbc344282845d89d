"""Cut raw AVA movies into the 1-second clips the dataset reads (parallel, resumable).

    python tools/data/ava/cut_clips.py data/ava/videos data/ava/clips/trainval --workers 8
    # -> data/ava/clips/trainval/<movie>/<sec>.mp4 for sec in [895, 1806)

Each clip is H.264 at ``--fps`` (25) with the short side at most ``--short-side`` (360);
frame ``k`` of ``<sec>.mp4`` is movie time ``sec + k / fps`` (movie time = seconds from the
start of the raw file, as in the AVA CSVs). One ffmpeg run per movie covers its missing
seconds; clips are written to a temporary folder, each is verified (opens, has ``fps``
frames, the last frame decodes) and only then renamed into place, so an interrupted run
leaves no partial clip and a re-run redoes only what is missing or broken.
"""
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from a source checkout

from videomae_det.datasets.video_io import (H264_ARGS, VideoDecodeError,  # noqa: E402
                                            ffmpeg_exe, one_second_segment_args, verify_video,
                                            video_info)
from videomae_det.utils import cli  # noqa: E402
from videomae_det.utils.progress import progress_bar  # noqa: E402

VIDEO_EXTS = ('.mp4', '.mkv', '.webm', '.avi', '.mov', '.m4v')


def output_size(width: int, height: int, short_side: int) -> Tuple[int, int]:
    """(w, h) with the short side ≤ ``short_side``, aspect kept, both even (yuv420p)."""
    scale = min(1.0, short_side / min(width, height))
    return (max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2))


def cut_movie(movie_path: str, out_root: str, start: int, end: int, fps: int,
              short_side: int) -> Tuple[str, int, int, List[str]]:
    """Make every clip [start, end) of one movie; -> (movie, made, skipped, errors)."""
    movie = Path(movie_path).stem
    out_dir = Path(out_root) / movie
    errors: List[str] = []
    try:
        info = video_info(movie_path)
    except VideoDecodeError as e:
        return movie, 0, 0, [str(e)]
    last = min(end, int(info.num_frames / info.fps))  # whole seconds the movie has
    wanted = list(range(start, last))
    todo = [s for s in wanted if not (out_dir / f'{s}.mp4').is_file()
            or verify_video(out_dir / f'{s}.mp4', fps) is not None]
    if not todo:
        return movie, 0, len(wanted), []
    w, h = output_size(info.width, info.height, short_side)
    tmp = out_dir / f'.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    first, stop = todo[0], todo[-1] + 1
    cmd = [ffmpeg_exe(), '-y', '-loglevel', 'error', '-ss', str(first), '-i', movie_path,
           '-t', str(stop - first), '-an', '-vf', f'fps={fps},scale={w}:{h}', *H264_ARGS,
           '-crf', '23', '-threads', '1', *one_second_segment_args(first, fps), str(tmp / '%d.mp4')]
    try:
        proc = subprocess.run(cmd, capture_output=True)
        if proc.returncode != 0:
            message = proc.stderr.decode(errors='replace').strip()[-500:]
            return movie, 0, len(wanted) - len(todo), [f'{movie_path}: ffmpeg failed: {message}']
        made = 0
        for sec in todo:
            clip = tmp / f'{sec}.mp4'
            problem = 'not produced' if not clip.is_file() else verify_video(clip, fps)
            if problem:
                errors.append(f'{out_dir / f"{sec}.mp4"}: {problem}')
                continue
            os.replace(clip, out_dir / f'{sec}.mp4')
            made += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return movie, made, len(wanted) - len(todo), errors


def find_movies(raw_dir: str, names: Optional[List[str]]) -> List[str]:
    files = sorted(str(p) for p in Path(raw_dir).iterdir()
                   if p.suffix.lower() in VIDEO_EXTS and not p.name.startswith('.'))
    if names is not None:
        wanted = set(names)
        files = [f for f in files if Path(f).stem in wanted]
        missing = wanted - {Path(f).stem for f in files}
        if missing:
            raise FileNotFoundError(f'{len(missing)} listed movie(s) not in {raw_dir}: '
                                    f'{sorted(missing)[:5]}')
    return files


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('raw_dir', help='folder of raw movies <movie>.<ext>')
    parser.add_argument('out_dir', help='clip folder, e.g. data/ava/clips/trainval')
    parser.add_argument('--start', type=int, default=895, help='first second (inclusive)')
    parser.add_argument('--end', type=int, default=1806, help='last second (exclusive)')
    parser.add_argument('--fps', type=int, default=25)
    parser.add_argument('--short-side', type=int, default=360)
    parser.add_argument('--movies', help='text file of movie ids to cut (default: all)')
    parser.add_argument('--workers', type=int, default=max(1, (os.cpu_count() or 2) // 2))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    names = Path(args.movies).read_text().split() if args.movies else None
    try:
        movies = find_movies(args.raw_dir, names)
    except FileNotFoundError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if not movies:
        print(f'error: no videos ({", ".join(VIDEO_EXTS)}) in {args.raw_dir}', file=sys.stderr)
        return 2
    jobs = [(m, args.out_dir, args.start, args.end, args.fps, args.short_side) for m in movies]
    made = skipped = 0
    errors: List[str] = []
    if args.workers > 1:
        pool = ProcessPoolExecutor(max_workers=args.workers)
        results = as_completed([pool.submit(cut_movie, *job) for job in jobs])
        results = (fut.result() for fut in results)
    else:
        pool, results = None, (cut_movie(*job) for job in jobs)
    try:
        for _, n_made, n_skipped, errs in progress_bar(results, total=len(jobs),
                                                       desc='cutting', unit='movie'):
            made, skipped = made + n_made, skipped + n_skipped
            errors += errs
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    print(f'{made} clips written, {skipped} already complete, {len(errors)} problem(s)')
    for e in errors:
        print(f'  {e}', file=sys.stderr)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(cli.run(main))
