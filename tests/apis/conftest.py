"""Fixtures for the inference API tests: the mini-AVA detector config + a randomly
initialised checkpoint in the training format, and a mini-AVA movie stitched from its
1-second clips."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
# the mini-AVA detector config (a small ViT, 8x4 clips at 112 px): real classes, test
# pipeline and data preprocessor
MINI_CONFIG = ROOT / 'configs' / 'mini_ava' / 'vit_tiny.py'


def save_random_checkpoint(cfg, path: Path) -> Path:
    """The model of ``cfg``, randomly initialised, saved as training saves it
    (``{'state_dict', 'meta': {'cfg': config text, ...}}``)."""
    from videomae_det.registry import MODELS
    from videomae_det.utils.atomic import atomic_torch_save
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    # a spread-out classifier so that scores differ between boxes and classes
    torch.nn.init.normal_(model.roi_head.fc_cls.weight, std=0.5)
    atomic_torch_save(dict(state_dict=model.state_dict(),
                           meta=dict(cfg=cfg.pretty_text, epoch=1, iter=2, seed=0)), path)
    return path


@pytest.fixture(scope='session')
def mini_ava(tmp_path_factory) -> Path:
    """The ``tiny`` mini-AVA preset (3 movies of 8 s, 160x120 at 25 fps)."""
    from videomae_det.datasets.mini_ava import generate_mini_ava
    root = tmp_path_factory.mktemp('mini_ava')
    generate_mini_ava(root, seed=0, size='tiny', workers=1)
    return root


@pytest.fixture(scope='session')
def tiny_config(mini_ava):
    """The mini-AVA config, its label map pointed at the generated dataset."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(MINI_CONFIG))
    cfg.test_evaluator.label_map_file = str(
        mini_ava / 'annotations' / 'mini_ava_action_list.pbtxt')
    return cfg


@pytest.fixture(scope='session')
def tiny_checkpoint(tiny_config, tmp_path_factory) -> Path:
    return save_random_checkpoint(tiny_config, tmp_path_factory.mktemp('ckpt') / 'tiny.pth')


@pytest.fixture(scope='session')
def mini_ava_movie(mini_ava, tmp_path_factory):
    """The val movie of mini-AVA as one mp4 (its clips 900..907 s joined) and its facts.

    Returns ``dict(path, movie, first_sec, val_min_json)``; video time 0 is movie second
    ``first_sec``.
    """
    from videomae_det.datasets.video_io import read_frames, write_video
    info = json.loads((mini_ava / 'mini_ava_info.json').read_text())
    movie = info['movies']['val'][0]
    clip_dir = mini_ava / 'clips' / 'trainval' / movie
    secs = sorted(int(p.stem) for p in clip_dir.glob('*.mp4'))
    frames = np.concatenate([read_frames(clip_dir / f'{s}.mp4', range(25)) for s in secs])
    path = tmp_path_factory.mktemp('movie') / f'{movie}.mp4'
    write_video(path, frames, fps=25)
    return dict(path=path, movie=movie, first_sec=secs[0], num_frames=len(frames),
                val_min_json=mini_ava / 'annotations' / 'ava_val_v2.2_min.json',
                val_csv=mini_ava / 'annotations' / 'ava_val_v2.2.csv')


class MJPEGStream:
    """A live MJPEG-over-HTTP stream (what IP cameras serve) on 127.0.0.1: each GET gets
    ``frames`` at ``fps`` in real time, as ``multipart/x-mixed-replace`` JPEG parts; the
    connection closes after the last frame. ``url`` is set once serving."""

    def __init__(self, frames: np.ndarray, fps: float):
        import http.server
        import socketserver
        import threading
        import time

        import cv2
        parts = []
        for f in frames:
            ok, buf = cv2.imencode('.jpg', cv2.cvtColor(f, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, 95])
            parts.append(buf.tobytes())

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header('Content-Type', 'multipart/x-mixed-replace; boundary=frame')
                self.end_headers()
                start = time.monotonic()
                try:
                    for i, data in enumerate(parts):
                        self.wfile.write(b'--frame\r\nContent-Type: image/jpeg\r\n'
                                         b'Content-Length: %d\r\n\r\n' % len(data) + data + b'\r\n')
                        self.wfile.flush()
                        time.sleep(max(0.0, start + (i + 1) / fps - time.monotonic()))
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/live.mjpg'

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def grey_frames(n: int, size=(80, 64)) -> np.ndarray:
    """Flat frames whose grey level tells their index (``3 × index + 10``, mod 240)."""
    return np.stack([np.full((size[1], size[0], 3), (3 * i) % 240 + 10, np.uint8)
                     for i in range(n)])


@pytest.fixture(scope='session')
def live_stream():
    """:class:`MJPEGStream` and :func:`grey_frames`, for tests that need a live source."""
    return MJPEGStream, grey_frames
