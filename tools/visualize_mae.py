"""Show what a VideoMAE pretraining model sees and reconstructs, as one PNG grid.

    python tools/visualize_mae.py CONFIG CHECKPOINT VIDEO --out grid.png

Rows: original frames / masked input (hidden cubes grey) / reconstruction (visible cubes
copied, hidden cubes predicted). Columns: the first frame of every temporal slice
(``T / tubelet`` columns; 8 for a 16-frame clip). Each cell is the network input size, so
the PNG is ``3 * H`` by ``(T / tubelet) * W`` pixels.

CONFIG is a pretraining config (``configs/pretrain/*.py``); CHECKPOINT one of our
pretraining checkpoints (``work_dirs/.../epoch_N.pth``) or an official VideoMAE pretraining
file. The clip is the video's centred window of the config's ``clip_len`` frames at its
``frame_interval``, centre-cropped and resized like the training crop. ``--seed`` fixes
the mask. Predicted cubes are de-normalised with the true cube's mean and std (as the
official visualisation does), so the picture shows structure, not absolute colour.
"""
import os.path as osp
import sys
from typing import Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction

from videomae_det.datasets.unlabeled import VideoMultiScaleCrop, window_indices
from videomae_det.datasets.video_io import read_frames, video_info
from videomae_det.engine.config_checks import load_config
from videomae_det.models.pretrain.videomae import VideoMAEPretrainer, patchify, unpatchify
from videomae_det.models.weights import load_pretraining_model
from videomae_det.registry import MODELS
from videomae_det.structures import ActionDataSample
from videomae_det.utils import cli
from videomae_det.utils.atomic import atomic_open

HIDDEN_GREY = 0.5  # fill of hidden cubes in the "masked" row, [0, 1] units


def parse_args(argv=None):
    parser = cli.ArgumentParser(description='Original / masked / reconstructed grid')
    parser.add_argument('config', help='pretraining config file')
    parser.add_argument('checkpoint', help='pretraining checkpoint (ours or official)')
    parser.add_argument('video', help='a video file')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--seed', type=int, default=0, help='seed of the mask')
    parser.add_argument('--mask-ratio', type=cli.unit_interval, default=None,
                        help="override the config's mask ratio")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE', help='override config entries (as in train.py)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    return parser.parse_args(argv)


def clip_settings(cfg: Config) -> Tuple[int, int, int]:
    """(clip_len, frame_interval, crop size) from the config's training data."""
    dataset = cfg.train_dataloader.dataset
    size = None
    for step in dataset.get('pipeline', []):
        if step.get('type') in (VideoMultiScaleCrop, 'VideoMultiScaleCrop'):
            size = step.get('size', 224)
    if size is None:
        raise ValueError('the config has no VideoMultiScaleCrop in train_dataloader.dataset.'
                         'pipeline; cannot tell the input size')
    return dataset.get('clip_len', 16), dataset.get('frame_interval', 4), size


def load_clip(video: str, clip_len: int, frame_interval: int, size: int) -> np.ndarray:
    """The centred window, centre-cropped and resized: uint8 (T, size, size, 3) RGB."""
    num_frames = video_info(video).num_frames
    span = (clip_len - 1) * frame_interval + 1
    idx = window_indices(num_frames, clip_len, frame_interval, max(num_frames - span, 0) // 2)
    crop = VideoMultiScaleCrop(size=size, random=False)
    return crop(dict(imgs=read_frames(video, idx)))['imgs']


def build_model(cfg: Config, checkpoint: str, device: str) -> VideoMAEPretrainer:
    model = MODELS.build(cfg.model)
    if not isinstance(model, VideoMAEPretrainer):
        raise ValueError(f'the config builds a {type(model).__name__}, not a VideoMAEPretrainer')
    load_pretraining_model(model, checkpoint)
    return model.to(device).eval()


def make_grid(model: VideoMAEPretrainer, clip: np.ndarray, seed: int) -> np.ndarray:
    """uint8 RGB (3 * H, T' * W, 3): original, masked and reconstructed rows."""
    sample = ActionDataSample(metainfo=dict(img_shape=clip.shape[1:3]))
    packed = dict(inputs=[torch.from_numpy(clip).permute(3, 0, 1, 2).contiguous()],
                  data_samples=[sample])
    device = next(model.parameters()).device
    data = model.data_preprocessor(packed, training=False)
    inputs = data['inputs'].to(device)
    mask = model.sample_mask(inputs, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        result = model(inputs, data['data_samples'], mode='predict', mask=mask)[0]
    original = model.unit_pixels(inputs)  # (1, 3, T, H, W) in [0, 1]
    cubes = patchify(original, model.patch_size, model.tubelet_size)
    cubes[mask] = HIDDEN_GREY
    grid = model.token_grid(inputs)
    masked = unpatchify(cubes, grid, model.patch_size, model.tubelet_size)
    rows = [original[0], masked[0], result.recon.to(original)]
    frames = slice(0, None, model.tubelet_size)  # first frame of each temporal slice
    # each row (3, T', H, W) -> (H, T' * W, 3)
    strips = [r[:, frames].permute(2, 1, 3, 0).flatten(1, 2) for r in rows]
    image = torch.cat(strips, dim=0).clamp(0, 1).mul(255).round().byte()
    return image.cpu().numpy()


def write_png(path: str, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f'could not encode {path}')
    with atomic_open(path, 'wb') as f:
        f.write(buf.tobytes())


def main(argv=None) -> int:
    return cli.run(_main, argv)


def _main(argv=None) -> None:
    args = parse_args(argv)
    cli.check_outputs({'--out': args.out}, {'config': args.config, 'checkpoint': args.checkpoint,
                                            'video': args.video})
    cfg = load_config(args.config, args.cfg_options)
    if args.mask_ratio is not None:
        cfg.model.mask_ratio = args.mask_ratio
    clip_len, frame_interval, size = clip_settings(cfg)
    if not osp.isfile(args.video):
        raise FileNotFoundError(f'video not found: {args.video}')
    clip = load_clip(args.video, clip_len, frame_interval, size)
    model = build_model(cfg, args.checkpoint, args.device)
    grid = make_grid(model, clip, args.seed)
    write_png(args.out, grid)
    print(f'wrote {args.out} ({grid.shape[1]}x{grid.shape[0]}): rows original / masked / '
          f'reconstructed, {grid.shape[1] // size} frames')


if __name__ == '__main__':
    sys.exit(main())
