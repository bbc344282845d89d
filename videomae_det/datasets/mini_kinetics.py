"""mini-Kinetics: unlabelled synthetic movies for pretraining, the Kinetics of mini-AVA.

VideoMAE's AVA results come from pretraining on a large unlabelled set (Kinetics-400) and
fine-tuning on AVA. In miniature: the mini-AVA renderer (:mod:`.mini_ava`: stick figures
that walk, run, jump, sit, fall, wave, talk, on textured sets with a drifting camera) draws
as many further movies as wanted, each with its own set, people, behaviour plan and camera,
and writes them as whole videos with no labels at all.

Layout written under ``out_dir``::

    videos/<movie>.mp4          one movie each, 160x120, 25 fps, H.264, ``duration`` seconds
    mini_kinetics_info.json     generator, seed, duration and the movie list

This is the "folder of videos" layout of :class:`UnlabeledVideoDataset` (``layout='videos'``,
one random window per video per epoch); ``configs/pretrain/mini_kinetics.py`` reads it.

Disjoint from mini-AVA: every movie draws from the random-stream family
``[seed, MINI_KINETICS_STREAM, index]``, never mini-AVA's ``[seed, index]``, so no mini-AVA
movie (of any seed) is re-rendered here; and movie names listed in ``avoid_movies`` (e.g. a
mini-AVA's val movies, :func:`mini_ava_movies`) are never used. Deterministic from the seed,
whatever the worker count.
"""
import json
from pathlib import Path
from typing import List, Sequence

import numpy as np

from videomae_det.datasets.mini_ava import (FPS, FRAME_H, FRAME_W, INFO_NAME, MovieSpec,
                                            _movie_names, _previous_movies, _remove,
                                            render_movies)
from videomae_det.formats import write_json

KINETICS_INFO_NAME = 'mini_kinetics_info.json'
KINETICS_GENERATOR = 'videomae_det.datasets.mini_kinetics'
MINI_KINETICS_STREAM = 4_000_037  # the random-stream family of mini-Kinetics movies
VIDEO_DIR = 'videos'


def mini_ava_movies(mini_ava_root, splits: Sequence[str] = ('train', 'val')) -> List[str]:
    """Movie names of a complete mini-AVA (from its info file), for ``avoid_movies``."""
    info = json.loads((Path(mini_ava_root) / INFO_NAME).read_text())
    if not info.get('complete'):
        raise ValueError(f'{mini_ava_root} holds an incomplete mini-AVA')
    return [m for split in splits for m in info['movies'].get(split, [])]


def generate_mini_kinetics(out_dir, seed: int = 0, movies: int = 200, duration: int = 10,
                           workers: int = 2, progress: bool = False,
                           avoid_movies: Sequence[str] = ()) -> dict:
    """Write ``movies`` unlabelled movies of ``duration`` seconds into ``out_dir/videos``.

    ``out_dir`` must be empty, absent, or an earlier mini-Kinetics (whose videos are
    replaced); anything else (a mini-AVA included) is refused, so a wrong path never deletes
    data. Names in ``avoid_movies`` are never used. Returns the info dict also written to
    ``out_dir/mini_kinetics_info.json``.
    """
    if movies < 1 or duration < 1:
        raise ValueError(f'movies and duration must be >= 1; got {movies}, {duration}')
    out_dir = Path(out_dir)
    previous = _previous_movies(out_dir, KINETICS_INFO_NAME, 'mini-Kinetics')
    video_dir = out_dir / VIDEO_DIR
    avoid = set(avoid_movies)
    rng = np.random.default_rng([seed, MINI_KINETICS_STREAM])
    names = [n for n in _movie_names(rng, movies + len(avoid)) if n not in avoid][:movies]
    specs = [MovieSpec(name, 'unlabelled', i, duration, stream=MINI_KINETICS_STREAM)
             for i, name in enumerate(names)]
    # until the end the info file says "incomplete" and lists every video a re-run must clear
    write_json(out_dir / KINETICS_INFO_NAME,
               dict(generator=KINETICS_GENERATOR, complete=False,
                    movies=dict(pending=sorted(set(previous + names)))))
    for movie in previous:
        _remove(video_dir / f'{movie}.mp4')
    video_dir.mkdir(parents=True, exist_ok=True)
    # the renderer's keyframe people (its labels) are dropped: nothing labelled is written
    render_movies(specs, seed, out_dir, workers, progress, video_dir=video_dir,
                  desc='mini-Kinetics movies')
    info = dict(generator=KINETICS_GENERATOR, complete=True, seed=seed, duration=duration,
                frame_size=[FRAME_W, FRAME_H], fps=FPS, stream=MINI_KINETICS_STREAM,
                video_dir=VIDEO_DIR, movies=dict(unlabelled=names))
    write_json(out_dir / KINETICS_INFO_NAME, info)
    return info
