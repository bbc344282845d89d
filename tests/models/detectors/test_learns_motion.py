"""The detector can learn what only motion tells apart, and nothing else gives it away.

Two classes of 8-frame clips of a bright square on a dark background: in class 0 the square
slides 2 pixels a frame (left or right), in class 1 it stands still. The person box is the
square's place in the middle frame (the keyframe), drawn from the same distribution for both
classes, so the keyframe alone says nothing about the class. A tiny detector trained on the
clips must separate them (its temporal path works: tubelets, attention across time, the
head's temporal mean does not wash motion out); the same detector trained on the keyframe
repeated 8 times (the static baseline's input) must stay near chance (no leak through the
box or the rendering).
"""
import torch

from videomae_det.models.backbones.vit import VisionTransformer
from videomae_det.models.detectors import AVADetector
from videomae_det.models.heads import AVARoIHead
from videomae_det.structures import ActionDataSample

T, SIZE, SQUARE, STEP = 8, 32, 6, 2
KEY = T // 2


def make_batch(n: int, gen: torch.Generator, static: bool):
    clips = torch.full((n, 3, T, SIZE, SIZE), -1.0)
    samples, labels = [], torch.randint(0, 2, (n,), generator=gen)
    span = STEP * (T - 1)
    for i in range(n):
        moving = labels[i] == 0
        direction = 1 if torch.rand(1, generator=gen) < 0.5 else -1
        # keyframe x drawn so that the whole path stays inside the frame
        x_key = int(torch.randint(span // 2, SIZE - SQUARE - span // 2, (1,), generator=gen))
        y = int(torch.randint(0, SIZE - SQUARE, (1,), generator=gen))
        for t in range(T):
            frame_t = KEY if static else t  # static: every frame is the keyframe
            x = x_key + (direction * STEP * (frame_t - KEY) if moving else 0)
            clips[i, :, t, y:y + SQUARE, x:x + SQUARE] = 1.0
        s = ActionDataSample(metainfo=dict(img_shape=(SIZE, SIZE)))
        s.proposals = torch.tensor([[x_key - 2., y - 2., x_key + SQUARE + 2., y + SQUARE + 2.]])
        s.proposal_scores = torch.ones(1)
        gt = torch.zeros(1, 2)
        gt[0, labels[i]] = 1
        s.gt_labels = gt
        samples.append(s)
    return clips, samples, labels


def train_and_score(static: bool, steps: int = 40) -> float:
    torch.manual_seed(0)
    det = AVADetector(
        backbone=dict(type=VisionTransformer, num_frames=T, img_size=SIZE, patch_size=4,
                      embed_dim=32, depth=2, num_heads=2),
        roi_head=dict(type=AVARoIHead, num_classes=2, dropout=0.0))  # stride 1/4: derived
    opt = torch.optim.AdamW(det.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(1)
    det.train()
    for _ in range(steps):
        clips, samples, _ = make_batch(16, gen, static)
        loss = det(clips, samples, mode='loss')['loss_action']
        opt.zero_grad()
        loss.backward()
        opt.step()
    det.eval()
    clips, samples, labels = make_batch(128, torch.Generator().manual_seed(2), static)
    with torch.no_grad():
        logits = det(clips, samples, mode='tensor')
    return float((logits.argmax(1) == labels).float().mean())


def test_keyframe_gives_no_hint_of_the_class():
    # the static input of a moving square equals that of a still one at the same place
    gen = torch.Generator().manual_seed(3)
    clips, samples, labels = make_batch(64, gen, static=True)
    assert bool((clips == clips[:, :, KEY:KEY + 1]).all())
    moving, still = clips[labels == 0], clips[labels == 1]
    assert moving.mean() == still.mean()  # same pixel count either way


def test_space_time_input_learns_motion_and_static_input_cannot():
    moving_acc = train_and_score(static=False)
    static_acc = train_and_score(static=True)
    assert moving_acc > 0.9, moving_acc
    assert static_acc < 0.7, static_acc
