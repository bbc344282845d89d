import numpy as np
import pytest

from videomae_det.datasets.unlabeled import (UnlabeledVideoDataset, VideoMultiScaleCrop,
                                             read_movie_list, window_indices)
from videomae_det.datasets.transforms import Flip, PackActionInputs
from videomae_det.datasets.video_io import VideoDecodeError, write_video
from videomae_det.structures import ActionDataSample


def grey_video(values, h=48, w=64):
    """Uniform grey frames whose level encodes a frame number (survives H.264 well)."""
    return np.repeat(np.asarray(values, np.uint8)[:, None, None, None], h * w * 3).reshape(
        len(values), h, w, 3)


def levels(imgs):
    return imgs.reshape(len(imgs), -1).mean(1)


@pytest.fixture(scope='module')
def video_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('videos')
    write_video(root / 'a.mp4', grey_video(np.arange(40) * 6), fps=25)
    write_video(root / 'sub' / 'b.mp4', grey_video(np.arange(10) * 20), fps=25)
    (root / 'notes.txt').write_text('not a video')
    return root


@pytest.fixture(scope='module')
def clip_store(tmp_path_factory):
    """AVA layout: movie m1, seconds 900..903, 10 frames per 1-second clip (10 fps)."""
    root = tmp_path_factory.mktemp('ava')
    for sec in range(900, 904):
        frame_no = (sec - 900) * 10 + np.arange(10)
        write_video(root / 'clips/trainval/m1' / f'{sec}.mp4', grey_video(frame_no * 6), fps=10)
    write_video(root / 'clips/trainval/m2/900.mp4', grey_video(np.zeros(10)), fps=10)
    return root


def test_window_indices_clamp_short_videos():
    assert window_indices(100, 4, 4, 10).tolist() == [10, 14, 18, 22]
    assert window_indices(5, 4, 2, 0).tolist() == [0, 2, 4, 4]


def test_videos_layout_lists_videos_and_decodes_the_centred_window(video_folder):
    ds = UnlabeledVideoDataset(str(video_folder), layout='videos', clip_len=4, frame_interval=4,
                               test_mode=True)
    assert len(ds) == 2
    out = ds[0]  # a.mp4: 40 frames, span 13 -> start (40 - 13) // 2 = 13
    assert out["imgs"].shape == (4, 48, 64, 3) and out['imgs'].dtype == np.uint8
    np.testing.assert_allclose(levels(out['imgs']), np.array([13, 17, 21, 25]) * 6, atol=3)
    assert out['movie'] == 'a' and out["img_shape"] == (48, 64)
    short = ds[1]['imgs']  # b.mp4 has 10 frames: the window repeats its last one
    np.testing.assert_allclose(levels(short), np.array([0, 4, 8, 9]) * 20, atol=3)


def test_training_windows_are_random_but_inside_the_video(video_folder):
    ds = UnlabeledVideoDataset(str(video_folder), clip_len=4, frame_interval=2,
                               movie_list=['a'])
    assert len(ds) == 1
    starts = set()
    for seed in range(8):
        np.random.seed(seed)
        lv = levels(ds[0]['imgs']) / 6
        assert np.allclose(np.diff(lv), 2, atol=1)
        starts.add(int(round(lv[0])))
    assert len(starts) > 1 and min(starts) >= 0 and max(starts) <= 40 - 7


def test_clips_layout_assembles_neighbouring_seconds(clip_store):
    ds = UnlabeledVideoDataset(str(clip_store), layout='clips', clip_len=4, frame_interval=3,
                               clip_fps=10, movie_list=['m1'], test_mode=True)
    assert len(ds) == 4
    out = ds[1]  # keyframe 901 = global frame 10; offsets -6, -3, 0, 3
    assert (out['movie'], out['timestamp']) == ('m1', 901)
    np.testing.assert_allclose(levels(out['imgs']), np.array([4, 7, 10, 13]) * 6, atol=3)
    first = ds[0]  # 900: the frames before the stored segment clamp to its first frame
    np.testing.assert_allclose(levels(first['imgs']), np.array([0, 0, 0, 3]) * 6, atol=3)


def test_movie_list_from_an_ava_csv(clip_store, tmp_path):
    csv_file = tmp_path / 'train.csv'
    csv_file.write_text('m2,0902,0.1,0.1,0.5,0.5,12,0\nm2,0903\n')
    assert read_movie_list(csv_file) == ['m2']
    ds = UnlabeledVideoDataset(str(clip_store), layout='clips', movie_list=str(csv_file))
    assert len(ds) == 1 and ds[0]['movie'] == 'm2'
    (tmp_path / 'empty.csv').write_text('\n')
    with pytest.raises(ValueError, match='empty.csv lists no movie'):
        read_movie_list(tmp_path / 'empty.csv')


def test_bad_inputs_raise_clear_errors(tmp_path, video_folder):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        UnlabeledVideoDataset(str(tmp_path / 'nowhere'))
    with pytest.raises(ValueError, match='no videos found'):
        UnlabeledVideoDataset(str(video_folder), movie_list=['zzz'])
    with pytest.raises(ValueError, match='layout'):
        UnlabeledVideoDataset(str(video_folder), layout='frames')
    broken = tmp_path / 'broken'
    broken.mkdir()
    (broken / 'x.mp4').write_bytes(b'not an mp4 at all')
    ds = UnlabeledVideoDataset(str(broken))
    with pytest.raises(VideoDecodeError, match='x.mp4'):
        ds[0]


def test_multi_scale_crop_resizes_to_a_square_from_one_crop_for_all_frames():
    np.random.seed(0)
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    frame = np.stack([xx, yy, np.zeros_like(xx)], -1).astype(np.uint8)
    imgs = np.stack([frame, frame])
    crop = VideoMultiScaleCrop(size=64)
    sizes = set()
    for _ in range(20):
        out = crop(dict(imgs=imgs.copy(), img_shape=(h, w)))
        assert out['imgs'].shape == (2, 64, 64, 3) and out['img_shape'] == (64, 64)
        assert np.array_equal(out['imgs'][0], out['imgs'][1])
        # crop width in source pixels, read back from the x-ramp
        sizes.add(int(out['imgs'][0, 32, -1, 0]) - int(out['imgs'][0, 32, 0, 0]))
    assert len(sizes) > 1 and max(sizes) <= 120  # scales of min(H, W) = 120
    centre = VideoMultiScaleCrop(size=64, random=False)(dict(imgs=imgs.copy(), img_shape=(h, w)))
    assert abs(int(centre['imgs'][0, 32, 32, 0]) - 80) <= 2  # centred square crop


def test_pipeline_packs_uint8_clips_and_an_empty_data_sample(video_folder):
    pipeline = [dict(type=VideoMultiScaleCrop, size=32), dict(type=Flip, flip_ratio=0.5),
                dict(type=PackActionInputs)]
    ds = UnlabeledVideoDataset(str(video_folder), clip_len=4, frame_interval=2,
                               pipeline=pipeline)
    out = ds[0]
    assert out['inputs'].shape == (3, 4, 32, 32) and str(out['inputs'].dtype) == 'torch.uint8'
    sample = out['data_samples']
    assert isinstance(sample, ActionDataSample)
    assert sample.movie == 'a' and sample.img_shape == (32, 32)
    assert 'proposals' not in sample and 'gt_labels' not in sample
