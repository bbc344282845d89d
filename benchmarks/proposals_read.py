"""Reading mmaction2's proposals pickle safely: our restricted unpickler vs ``pickle.load``.

Writes an AVA-val-sized ``ava_dense_proposals_val.FAIR.recall_93.9.pkl`` look-alike (64
movies x 897 keyframes, ``{"movie,%04d": float32 array (N, 5)}``, N ~ 1..20 boxes) in the
documented format, then times, best of ``--repeat``:

* ``pickle.load``: the plain (unsafe: runs whatever the file names) load mmaction2 does;
* ``restricted``: ``videomae_det.formats.load_array_pickle`` (only numpy arrays rebuilt);
* ``read_proposals_pkl``: the restricted load plus our key and box validation;
* ``read_person_detections``: all of it matched to a ``*_min.json`` of the same keyframes
  (pixel boxes per image id: what ``proposal_file`` costs the dataset at start-up).

Prints a table and writes ``benchmarks/results/proposals_read.json``.

    python benchmarks/proposals_read.py [--movies 64] [--repeat 3]
"""
import argparse
import json
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videomae_det.formats import (AVAGroundTruth, build_min_json,  # noqa: E402
                                  load_array_pickle, read_person_detections, read_proposals_pkl)
from videomae_det.utils.atomic import atomic_write_text  # noqa: E402


def make_proposals(movies: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for m in range(movies):
        for t in range(902, 1799):
            n = int(rng.integers(1, 21))
            xy = np.sort(rng.random((n, 2, 2)), axis=1)
            boxes = np.concatenate([xy[:, 0], xy[:, 1]], axis=1)
            out[f'movie{m:06d},{t:04d}'] = np.concatenate(
                [boxes, rng.random((n, 1))], axis=1).astype(np.float32)
    return out


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--movies', type=int, default=64)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'ava_dense_proposals_val.FAIR.recall_93.9.pkl'
        proposals = make_proposals(args.movies)
        path.write_bytes(pickle.dumps(proposals, protocol=2))
        size_mb = path.stat().st_size / 2**20

        def plain():
            with open(path, 'rb') as f:
                return pickle.load(f, encoding='latin1')
        keyframes = [(m, int(t)) for m, t in (k.split(',') for k in proposals)]
        min_json = build_min_json(AVAGroundTruth(keyframes, {}),
                                  {m: (455, 256) for m, _ in keyframes})
        rows = {'pickle.load': best_of(plain, args.repeat),
                'restricted': best_of(lambda: load_array_pickle(path), args.repeat),
                'read_proposals_pkl': best_of(lambda: read_proposals_pkl(path), args.repeat),
                'read_person_detections': best_of(
                    lambda: read_person_detections(path, min_json), args.repeat)}
    base = rows['pickle.load']
    print(f'{len(proposals)} keyframes, {sum(len(v) for v in proposals.values())} boxes, '
          f'{size_mb:.1f} MB (protocol 2)')
    print(f'{"reader":<24} {"seconds":>8} {"vs pickle.load":>15}')
    for name, sec in rows.items():
        print(f'{name:<24} {sec:8.3f} {sec / base:14.2f}x')
    out = dict(keyframes=len(proposals), size_mb=round(size_mb, 2), repeat=args.repeat,
               seconds={k: round(v, 4) for k, v in rows.items()},
               ratio_vs_pickle_load={k: round(v / base, 3) for k, v in rows.items()})
    atomic_write_text(REPO / 'benchmarks' / 'results' / 'proposals_read.json',
                      json.dumps(out, indent=2) + '\n')


if __name__ == '__main__':
    main()
