"""mini-AVA: a small synthetic dataset written in exactly the AVA layout.

It lets every part of the project (data pipeline, training, evaluation, inference) run end
to end on a laptop CPU, with labels that a model can only get right by looking at space and
time:

- each movie has 2-4 articulated stick figures (varied heights, clothes and skin colours)
  on a textured background, with a slowly drifting, shaking camera, people passing in front
  of each other, an occluding pole or bush, and cut-aways to an empty shot (their keyframes
  become the 2-column "nobody here" rows of the official CSVs);
- 12 classes with their real AVA ids and names: pose (stand, sit, lie/sleep, bend/bow),
  movement (walk, run/jog, jump/leap, fall down, hand wave) and person-person (talk to,
  listen to, hand shake). Walk and run share the same limb amplitudes and poses and differ
  only in speed and cadence; a talker and a listener differ only by the talker's head
  motion; a raised still hand (no label) shadows every hand wave. People carry several
  labels at once (e.g. stand + hand wave + talk to).

Layout written under ``out_dir`` (the same as real AVA, see docs/data.md)::

    clips/trainval/<movie>/<sec>.mp4             1-second clips, 160x120, 25 fps, H.264,
                                                 seconds 900 .. 900 + duration - 1
    annotations/ava_{train,val}_v2.2.csv         official CSVs (keyframes 902 .. end - 2)
    annotations/ava_{train,val}_v2.2_min.json    COCO-like, boxes in stored-clip pixels
    annotations/ava_val_excluded_timestamps_v2.2.csv
    annotations/mini_ava_action_list.pbtxt       label map of the classes (12 AVA ones, or
                                                 a custom class set: ``class_set=``)
    boxes/ava_val_det_person_bbox.json           person detections (scores, misses, false
                                                 positives) for the val keyframes
    mini_ava_info.json                           seed, preset and movie lists

Everything is a function of the seed (per-movie random streams, so the worker count does
not matter); ``tests/datasets/test_mini_ava.py`` checks that two runs give identical files.
"""
import json
import math
import multiprocessing
import os
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from videomae_det.assets import AVA_LABEL_MAP
from videomae_det.formats import (build_min_json, keyframe_image_ids, read_ground_truth_csv,
                                  read_label_map, write_ground_truth_csv, write_json,
                                  write_label_map)
from videomae_det.datasets.video_io import H264_ARGS, ffmpeg_exe, one_second_segment_args
from videomae_det.utils.atomic import atomic_open
from videomae_det.utils.progress import progress_bar

FRAME_W, FRAME_H = 160, 120  # stored clip size (pixels)
FPS = 25
FIRST_SEC = 900  # the first stored second, as in real AVA
MARGIN = 8  # the rendered world is larger than the frame by this much on each side (camera)

BEND, FALL, JUMP, LIE, RUN, SIT, STAND, WALK = 1, 5, 7, 8, 10, 11, 12, 14
HAND_SHAKE, HAND_WAVE, LISTEN, TALK = 68, 69, 74, 79
CLASS_IDS = (BEND, FALL, JUMP, LIE, RUN, SIT, STAND, WALK, HAND_SHAKE, HAND_WAVE, LISTEN, TALK)
LABEL_MAP_NAME = 'mini_ava_action_list.pbtxt'
INFO_NAME = 'mini_ava_info.json'
GENERATOR = 'videomae_det.datasets.mini_ava'


@dataclass(frozen=True)
class MiniAVASize:
    """How much to generate: movies per split and their length in seconds (clips 900 ..
    900 + duration - 1, keyframes 902 .. 900 + duration - 2)."""
    train_movies: int
    val_movies: int
    duration: int

    def num_keyframes(self) -> Tuple[int, int]:
        per_movie = self.duration - 3
        return self.train_movies * per_movie, self.val_movies * per_movie


# tiny: unit tests (~1 s). default: quickstart training in minutes on 2 CPU cores.
# large: closer to meaningful mAP numbers when a GPU is available.
PRESETS: Dict[str, MiniAVASize] = {
    'tiny': MiniAVASize(train_movies=2, val_movies=1, duration=8),
    'default': MiniAVASize(train_movies=12, val_movies=4, duration=30),
    'large': MiniAVASize(train_movies=48, val_movies=12, duration=60),
}


def label_map(class_set: str = 'ava') -> Dict[int, str]:
    """{id: name} of a class set (:data:`CLASS_SETS`). ``'ava'``: the 12 mini-AVA classes
    with their AVA ids and official names."""
    if class_set == 'ava':
        official = read_label_map(AVA_LABEL_MAP)
        return {i: official[i] for i in CLASS_IDS}
    if class_set == 'custom5':
        return {new_id: name for new_id, (_, name) in CUSTOM5.items()}
    if class_set == 'custom100':
        return {_custom100_id(b, c): f'{behaviour} in {colour}'
                for b, (_, behaviour) in enumerate(CUSTOM100_BEHAVIOURS)
                for c, colour in enumerate(CUSTOM100_COLOURS)}
    raise ValueError(f'unknown class set {class_set!r}; choose from {CLASS_SETS}')


# Class sets unlike AVA's, for the "your own dataset" path: ids that are neither 1..N nor
# contiguous, names of their own. Each class is a function of what the generator knows
# (the AVA-style labels of a person, and the colour of their shirt).
# custom5: five movement classes, ids up to 250. {id: (source AVA id, name)}
CUSTOM5 = {3: (WALK, 'stroll'), 17: (RUN, 'sprint'), 42: (JUMP, 'hop'),
           108: (HAND_WAVE, 'wave hello'), 250: (SIT, 'take a seat')}
# custom100: 10 behaviours x 10 shirt colours ("running in blue"), ids 101, 104, ..., 398
CUSTOM100_BEHAVIOURS = ((STAND, 'standing'), (WALK, 'walking'), (RUN, 'running'),
                        (JUMP, 'jumping'), (SIT, 'sitting'), (BEND, 'bending'), (LIE, 'lying'),
                        (FALL, 'falling'), (HAND_WAVE, 'waving'), (TALK, 'talking'))
# hue in ten 36-degree bins from red (0 degrees)
CUSTOM100_COLOURS = ('red', 'yellow', 'lime', 'green', 'teal', 'azure', 'blue', 'violet',
                     'magenta', 'pink')
CLASS_SETS = ('ava', 'custom5', 'custom100')


def _custom100_id(behaviour: int, colour: int) -> int:
    return 101 + 3 * (10 * behaviour + colour)


def shirt_colour(rgb: Tuple[int, int, int]) -> int:
    """Index in :data:`CUSTOM100_COLOURS` of a shirt colour: its hue in ten equal bins."""
    hue = int(cv2.cvtColor(np.uint8([[rgb]]), cv2.COLOR_RGB2HSV)[0, 0, 0])  # 0..179
    return min(hue * len(CUSTOM100_COLOURS) // 180, len(CUSTOM100_COLOURS) - 1)


def relabel(ava_ids: Sequence[int], shirt: Tuple[int, int, int], class_set: str) -> List[int]:
    """A person's labels in ``class_set`` from their mini-AVA (AVA id) labels and shirt."""
    if class_set == 'ava':
        return sorted(ava_ids)
    if class_set == 'custom5':
        return sorted(new for new, (src, _) in CUSTOM5.items() if src in ava_ids)
    if class_set == 'custom100':
        colour = shirt_colour(shirt)
        return sorted(_custom100_id(b, colour) for b, (src, _) in enumerate(CUSTOM100_BEHAVIOURS)
                      if src in ava_ids)
    raise ValueError(f'unknown class set {class_set!r}; choose from {CLASS_SETS}')


# --------------------------------------------------------------------------- behaviour
@dataclass
class Segment:
    """What an actor does during movie time [t0, t1) seconds (0 = second 900)."""
    t0: float
    t1: float
    body: str  # stand | walk | run | jump | sit | bend | lie | fall
    wave: bool = False  # waving hand (label hand wave)
    raised: bool = False  # hand held up, still (no label: the distractor of hand wave)
    social: str = ''  # talk | listen | shake | silent (pairs only)


@dataclass
class Actor:
    height: float  # standing height, pixels
    y_feet: float  # ground line, world pixels
    x: float  # feet position, world pixels
    facing: int  # +1 right, -1 left
    shirt: Tuple[int, int, int]
    pants: Tuple[int, int, int]
    skin: Tuple[int, int, int]
    amp: float  # gait swing amplitude (rad), shared by walk and run
    cadence: Dict[str, float]  # gait cycles per second for walk / run
    speed: Dict[str, float]  # pixels per second for walk / run
    wave_hz: float
    talk_hz: float
    jump_hz: float
    jump_height: float
    raised_angle: float
    segments: List[Segment] = field(default_factory=list)
    partner: Optional[int] = None

    def segment_at(self, t: float) -> Segment:
        for seg in self.segments:
            if seg.t0 <= t < seg.t1:
                return seg
        return self.segments[-1]


def _hsv_colour(rng, s=(0.3, 0.9), v=(0.3, 0.95)) -> Tuple[int, int, int]:
    hsv = np.uint8([[[rng.integers(0, 180), rng.uniform(*s) * 255, rng.uniform(*v) * 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _new_actor(rng, height: float, y_feet: float, x: float, facing: int) -> Actor:
    skin = tuple(int(c) for c in np.array([225, 180, 150]) * rng.uniform(0.45, 1.05))
    walk_cad = rng.uniform(0.8, 1.05)
    return Actor(
        height=height, y_feet=y_feet, x=x, facing=facing, shirt=_hsv_colour(rng),
        pants=_hsv_colour(rng, v=(0.15, 0.7)), skin=tuple(min(255, c) for c in skin),
        amp=rng.uniform(0.35, 0.55),
        cadence=dict(walk=walk_cad, run=walk_cad * rng.uniform(1.9, 2.3)),
        speed=dict(walk=height * rng.uniform(0.25, 0.35), run=height * rng.uniform(0.8, 1.0)),
        wave_hz=rng.uniform(2.0, 3.0), talk_hz=rng.uniform(3.0, 4.0),
        jump_hz=rng.uniform(1.1, 1.5), jump_height=height * rng.uniform(0.15, 0.25),
        raised_angle=rng.uniform(-0.5, 0.5))


def _plan_solo(rng, duration: float) -> List[Segment]:
    bodies = ['stand', 'walk', 'run', 'jump', 'sit', 'bend', 'fall']
    weights = np.array([0.18, 0.2, 0.16, 0.12, 0.12, 0.1, 0.12])
    segs: List[Segment] = []
    t = -rng.uniform(0.0, 2.0)  # so segment boundaries fall anywhere relative to keyframes
    while t < duration + 2:
        body = str(rng.choice(bodies, p=weights / weights.sum()))
        if body == 'fall':
            # stand a moment, fall within a second, then lie for a while
            segs.append(Segment(t, t + rng.uniform(0.6, 1.5), 'stand'))
            t = segs[-1].t1
            segs.append(Segment(t, t + rng.uniform(0.7, 1.0), 'fall'))
            t = segs[-1].t1
            segs.append(Segment(t, t + rng.uniform(2.0, 3.5), 'lie'))
            t = segs[-1].t1
            continue
        wave = body in ('stand', 'walk', 'sit') and rng.random() < 0.35
        raised = not wave and body in ('stand', 'walk', 'sit') and rng.random() < 0.3
        segs.append(Segment(t, t + rng.uniform(2.5, 5.0), body, wave=wave, raised=raised))
        t = segs[-1].t1
    return segs


def _plan_pair(rng, duration: float) -> Tuple[List[Segment], List[Segment]]:
    """Two people facing each other: taking turns talking, silent, or shaking hands."""
    a: List[Segment] = []
    b: List[Segment] = []
    t = -rng.uniform(0.0, 2.0)
    while t < duration + 2:
        kind = str(rng.choice(['talk_a', 'talk_b', 'silent', 'shake'], p=[0.33, 0.33, 0.14, 0.2]))
        dur = rng.uniform(1.5, 3.0) if kind == 'shake' else rng.uniform(2.0, 4.5)
        if kind == 'shake':
            body_a = body_b = 'stand'
        else:
            body_a = 'sit' if rng.random() < 0.3 else 'stand'
            body_b = 'sit' if rng.random() < 0.3 else 'stand'
        social_a, social_b = dict(talk_a=('talk', 'listen'), talk_b=('listen', 'talk'),
                                  silent=('silent', 'silent'), shake=('shake', 'shake'))[kind]
        for segs, body, social in ((a, body_a, social_a), (b, body_b, social_b)):
            free_hand = social in ('talk', 'listen', 'silent')
            wave = free_hand and social == 'talk' and rng.random() < 0.3
            raised = free_hand and not wave and rng.random() < 0.2
            segs.append(Segment(t, t + dur, body, wave=wave, raised=raised, social=social))
        t += dur
    return a, b


def _labels(actor: Actor, t: float) -> List[int]:
    """AVA ids of ``actor`` at keyframe time ``t`` (movie seconds from 900)."""
    seg = actor.segment_at(t)
    labels = set()
    if seg.body == 'fall':
        labels.add(STAND if (t - seg.t0) / (seg.t1 - seg.t0) < 0.5 else LIE)
    else:
        labels |= {'stand': {STAND}, 'walk': {STAND, WALK}, 'run': {STAND, RUN},
                   'jump': {STAND, JUMP}, 'sit': {SIT}, 'bend': {BEND}, 'lie': {LIE}}[seg.body]
    # a fall is short: it counts for the keyframes whose +-0.5 s window it touches
    if any(s.body == 'fall' and s.t0 < t + 0.5 and s.t1 > t - 0.5 for s in actor.segments):
        labels.add(FALL)
    if seg.wave:
        labels.add(HAND_WAVE)
    labels |= {'talk': {TALK}, 'listen': {LISTEN}, 'shake': {HAND_SHAKE}}.get(seg.social, set())
    return sorted(labels)


# --------------------------------------------------------------------------- the figure
Primitive = Tuple  # ('line', p, q, thickness, rgb) | ('circle', centre, radius, rgb)


def _limb(p, angle, length):
    """End point of a limb from ``p`` at ``angle`` (0 = straight down, + = forward)."""
    return (p[0] + length * math.sin(angle), p[1] + length * math.cos(angle))


def _figure(actor: Actor, t: float, state: dict) -> List[Primitive]:
    """Primitives of ``actor`` at movie time ``t`` in world pixels (y down).

    The skeleton is built facing +x around the feet point, then rotated (lying, falling),
    mirrored to the facing direction and moved to the actor's position.
    """
    h = actor.height
    seg = actor.segment_at(t)
    local_t = t - seg.t0
    thigh = shin = 0.235 * h
    torso, upper, fore, head_r = 0.30 * h, 0.16 * h, 0.15 * h, 0.085 * h
    hip_y, lean, rotation, lift = -(thigh + shin), 0.0, 0.0, 0.0
    legs = [(0.06, 0.06), (-0.06, -0.06)]  # (thigh angle, shin angle) per leg
    arms = [(0.12, 0.25), (-0.08, 0.05)]  # (upper-arm angle, forearm angle), front then back
    head_dy, mouth_open, stool = 0.0, False, False
    body = seg.body
    if body in ('walk', 'run'):
        # identical poses for walk and run: only the phase speed (and the ground speed) differ
        phase = state['phase']
        s = math.sin(phase)
        knee = 0.7 * actor.amp * max(0.0, -math.cos(phase))
        knee2 = 0.7 * actor.amp * max(0.0, math.cos(phase))
        legs = [(actor.amp * s, actor.amp * s - knee), (-actor.amp * s, -actor.amp * s - knee2)]
        arms = [(-0.7 * actor.amp * s, -0.7 * actor.amp * s + 0.4),
                (0.7 * actor.amp * s, 0.7 * actor.amp * s + 0.4)]
        hip_y += 0.015 * h * abs(math.cos(phase))
    elif body == 'jump':
        p = (local_t * actor.jump_hz) % 1.0
        if p < 0.6:  # airborne
            lift = actor.jump_height * math.sin(math.pi * p / 0.6)
            tuck = math.sin(math.pi * p / 0.6)
            legs = [(0.6 * tuck, -0.5 * tuck), (0.4 * tuck, -0.7 * tuck)]
            arms = [(2.4, 2.6), (2.2, 2.4)]
        else:  # crouch between hops
            c = math.sin(math.pi * (p - 0.6) / 0.4)
            legs = [(0.5 * c, -0.5 * c), (0.45 * c, -0.55 * c)]
            hip_y += 0.08 * h * c
            arms = [(-0.4 * c, -0.2 * c), (-0.5 * c, -0.3 * c)]
    elif body == 'sit':
        hip_y = -0.26 * h
        legs = [(math.pi / 2, 0.0), (math.pi / 2 - 0.15, -0.1)]
        arms = [(0.35, 1.3), (0.25, 1.2)]
        stool = True
    elif body == 'bend':
        lean = 1.15 + 0.25 * math.sin(0.7 * local_t)
        arms = [(0.1, 0.05), (-0.05, -0.05)]
    elif body == 'lie':
        rotation = math.pi / 2
    elif body == 'fall':
        progress = min(1.0, local_t / (seg.t1 - seg.t0))
        rotation = math.pi / 2 * progress ** 2
        arms = [(0.4 + 1.5 * progress, 0.6 + 1.5 * progress),
                (0.2 + 1.2 * progress, 0.5 + progress)]

    if seg.wave or seg.raised:
        swing = 0.5 * math.sin(2 * math.pi * actor.wave_hz * t) if seg.wave else actor.raised_angle
        arms[0] = (math.pi - 0.35, math.pi + swing)
    if seg.social == 'shake':
        shake = 0.25 * math.sin(2 * math.pi * 2.5 * t)
        arms[0] = (0.95, 1.35 + shake)
    if seg.social == 'talk':
        head_dy = 0.03 * h * math.sin(2 * math.pi * actor.talk_hz * t)
        mouth_open = math.sin(2 * math.pi * actor.talk_hz * t + 1.0) > 0

    hip = (0.0, hip_y)
    neck = (hip[0] + torso * math.sin(lean), hip[1] - torso * math.cos(lean))
    head_c = (neck[0] + 1.15 * head_r * math.sin(lean) + 0.3 * head_dy,
              neck[1] - 1.15 * head_r * math.cos(lean) + head_dy)
    shoulder = (hip[0] + 0.92 * torso * math.sin(lean), hip[1] - 0.92 * torso * math.cos(lean))

    leg_w, torso_w, arm_w = max(2.0, 0.075 * h), max(3.0, 0.13 * h), max(1.5, 0.055 * h)
    shade = tuple(int(c * 0.7) for c in actor.shirt)
    prims: List[Primitive] = []
    if stool:
        prims.append(('line', (-0.08 * h, -0.13 * h), (0.14 * h, -0.13 * h), 0.26 * h,
                      (110, 80, 50)))
    # back arm, back leg, torso, front leg, front arm, head
    elbow = _limb(shoulder, arms[1][0], upper)
    prims += [('line', shoulder, elbow, arm_w, shade),
              ('line', elbow, _limb(elbow, arms[1][1], fore), arm_w, shade)]
    for k, (a_thigh, a_shin) in enumerate(reversed(legs)):
        knee = _limb(hip, a_thigh, thigh)
        colour = actor.pants if k else tuple(int(c * 0.75) for c in actor.pants)
        prims += [('line', hip, knee, leg_w, colour),
                  ('line', knee, _limb(knee, a_shin, shin), leg_w, colour)]
    prims.append(('line', hip, neck, torso_w, actor.shirt))
    elbow = _limb(shoulder, arms[0][0], upper)
    hand = _limb(elbow, arms[0][1], fore)
    prims += [('line', shoulder, elbow, arm_w, actor.shirt),
              ('line', elbow, hand, arm_w, actor.shirt),
              ('circle', hand, arm_w * 0.9, actor.skin),
              ('circle', head_c, head_r, actor.skin),
              ('circle', (head_c[0] + 0.55 * head_r, head_c[1] - 0.2 * head_r),
               max(0.6, 0.18 * head_r), (20, 20, 20))]
    if mouth_open:
        prims.append(('circle', (head_c[0] + 0.6 * head_r, head_c[1] + 0.45 * head_r),
                      max(0.6, 0.22 * head_r), (90, 10, 10)))

    # rotate about the feet (lying/falling forward), mirror to the facing side, place
    cos_r, sin_r = math.cos(rotation), math.sin(rotation)
    ground_shift = 0.07 * h * (rotation / (math.pi / 2))  # a lying body rests on the ground

    def place(p):
        x, y = p[0] * cos_r - p[1] * sin_r, p[0] * sin_r + p[1] * cos_r
        return (actor.x + actor.facing * x, actor.y_feet + y - lift - ground_shift)

    return [_place_prim(p, place) for p in prims]


def _place_prim(prim: Primitive, place) -> Primitive:
    if prim[0] == 'line':
        return ('line', place(prim[1]), place(prim[2]), prim[3], prim[4])
    return ('circle', place(prim[1]), prim[2], prim[3])


def _extent(prims: Sequence[Primitive]) -> np.ndarray:
    """xyxy box (world pixels) around the drawn primitives, stroke widths included."""
    xs, ys = [], []
    for prim in prims:
        if prim[0] == 'line':
            r = prim[3] / 2
            for p in (prim[1], prim[2]):
                xs += [p[0] - r, p[0] + r]
                ys += [p[1] - r, p[1] + r]
        else:
            r = prim[2]
            xs += [prim[1][0] - r, prim[1][0] + r]
            ys += [prim[1][1] - r, prim[1][1] + r]
    return np.array([min(xs), min(ys), max(xs), max(ys)])


_SUB = 16  # cv2 sub-pixel drawing: coordinates × 2**4


def _draw(img: np.ndarray, prims: Sequence[Primitive], offset: Tuple[float, float]) -> None:
    ox, oy = offset
    for prim in prims:
        if prim[0] == 'line':
            p = (int(round((prim[1][0] - ox) * _SUB)), int(round((prim[1][1] - oy) * _SUB)))
            q = (int(round((prim[2][0] - ox) * _SUB)), int(round((prim[2][1] - oy) * _SUB)))
            cv2.line(img, p, q, prim[4], max(1, int(round(prim[3]))), cv2.LINE_AA, shift=4)
        else:
            c = (int(round((prim[1][0] - ox) * _SUB)), int(round((prim[1][1] - oy) * _SUB)))
            cv2.circle(img, c, max(_SUB // 2, int(round(prim[2] * _SUB))), prim[3], -1,
                       cv2.LINE_AA, shift=4)


# --------------------------------------------------------------------------- scene
def _background(rng, width: int, height: int) -> np.ndarray:
    """A static textured set: wall with panels and windows, floor with tiles, noise."""
    horizon = int(rng.uniform(0.35, 0.55) * height)
    wall, floor = np.array(_hsv_colour(rng, s=(0.1, 0.5), v=(0.5, 0.9)), np.float32), \
        np.array(_hsv_colour(rng, s=(0.1, 0.6), v=(0.3, 0.7)), np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[:horizon], img[horizon:] = wall, floor
    low = cv2.resize(rng.normal(0, 1, (6, 8, 3)).astype(np.float32), (width, height),
                     interpolation=cv2.INTER_CUBIC)
    img += 14 * low + rng.normal(0, 4, (height, width, 3)).astype(np.float32)
    for _ in range(int(rng.integers(2, 6))):  # windows, doors, posters
        w, h = int(rng.uniform(8, 40)), int(rng.uniform(8, max(9, horizon - 4)))
        x, y = int(rng.uniform(0, width - w)), int(rng.uniform(0, max(1, horizon - h)))
        colour = np.array(_hsv_colour(rng), np.float32)
        img[y:y + h, x:x + w] = 0.5 * img[y:y + h, x:x + w] + 0.5 * colour
    step = int(rng.uniform(10, 24))
    for x in range(int(rng.uniform(0, step)), width, step):  # floor tiles
        img[horizon:, x] *= 0.8
    img[horizon:horizon + 2] *= 0.7
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass
class Occluder:
    kind: str  # pole | bush
    box: Tuple[float, float, float, float]  # world xyxy
    colour: Tuple[int, int, int]

    def draw(self, img):
        """Draw onto the world image."""
        x1, y1, x2, y2 = self.box
        if self.kind == 'pole':
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), self.colour, -1)
        else:
            cv2.ellipse(img, (int((x1 + x2) / 2), int((y1 + y2) / 2)),
                        (int((x2 - x1) / 2), int((y2 - y1) / 2)), 0, 0, 360, self.colour, -1,
                        cv2.LINE_AA)

    def covered_fraction(self, box: np.ndarray) -> float:
        ix = max(0.0, min(box[2], self.box[2]) - max(box[0], self.box[0]))
        iy = max(0.0, min(box[3], self.box[3]) - max(box[1], self.box[1]))
        area = (box[2] - box[0]) * (box[3] - box[1])
        fill = 1.0 if self.kind == 'pole' else math.pi / 4
        return fill * ix * iy / area if area > 0 else 1.0


@dataclass
class MovieSpec:
    name: str
    split: str
    index: int  # position among all movies (seeds the movie's random stream)
    duration: int
    # which family of random streams: 0 = mini-AVA's ([seed, index], unchanged since the
    # first release); another value gives [seed, stream, index], a separate family (the
    # unlabelled mini-Kinetics draws its movies there so none repeats a mini-AVA movie)
    stream: int = 0

    def rng_key(self, seed: int) -> List[int]:
        return [seed, self.index] if self.stream == 0 else [seed, self.stream, self.index]


@dataclass
class KeyframePerson:
    """A person at a keyframe: box xyxy in stored-clip pixels, clipped; ``visible`` is the
    fraction neither outside the frame nor behind the occluder; ``annotated`` says whether
    it goes into the ground truth (enough of the person is visible)."""
    box: Tuple[float, float, float, float]
    actor: int
    action_ids: List[int]
    visible: float
    annotated: bool
    shirt: Tuple[int, int, int] = (0, 0, 0)  # RGB (the custom100 class set reads it)


def _simulate_and_render(spec: MovieSpec, seed: int, clip_dir: Path,
                         video_file: Optional[Path] = None) -> Dict[int, List[KeyframePerson]]:
    """Render one movie into 1-second clips under ``clip_dir/<movie>/`` (or, given
    ``video_file``, into that one mp4 instead); return the people at each keyframe second."""
    rng = np.random.default_rng(spec.rng_key(seed))
    world_w, world_h = FRAME_W + 2 * MARGIN, FRAME_H + 2 * MARGIN
    background = _background(rng, world_w, world_h)
    cutaway_bg = _background(rng, world_w, world_h)
    n_frames = spec.duration * FPS

    actors: List[Actor] = []
    if rng.random() < 0.75:  # a pair in conversation
        h = rng.uniform(48, 72)
        y_feet = MARGIN + rng.uniform(0.72, 0.95) * FRAME_H
        gap = 0.55 * h
        x0 = rng.uniform(MARGIN + 0.3 * h, world_w - MARGIN - 0.3 * h - gap)
        a = _new_actor(rng, h * rng.uniform(0.92, 1.05), y_feet, x0, +1)
        b = _new_actor(rng, h * rng.uniform(0.92, 1.05), y_feet + rng.uniform(-2, 2), x0 + gap, -1)
        a.segments, b.segments = _plan_pair(rng, spec.duration)
        a.partner, b.partner = 1, 0
        actors += [a, b]
    for _ in range(int(rng.integers(1, 3)) if actors else int(rng.integers(2, 4))):
        h = rng.uniform(40, 78)
        y_feet = MARGIN + FRAME_H * (0.62 + 0.36 * (h - 40) / 38) + rng.uniform(-3, 3)
        actor = _new_actor(rng, h, y_feet, rng.uniform(MARGIN + 10, world_w - MARGIN - 10),
                           int(rng.choice([-1, 1])))
        actor.segments = _plan_solo(rng, spec.duration)
        actors.append(actor)

    occluders: List[Occluder] = []
    if rng.random() < 0.5:
        if rng.random() < 0.5:
            x = rng.uniform(MARGIN, world_w - MARGIN - 9)
            occluders.append(Occluder('pole', (x, 0, x + rng.uniform(5, 9), world_h),
                                      _hsv_colour(rng, v=(0.2, 0.6))))
        else:
            cx, w, h = rng.uniform(MARGIN + 20, world_w - MARGIN - 20), rng.uniform(24, 44), \
                rng.uniform(22, 36)
            occluders.append(Occluder('bush', (cx - w / 2, world_h - h, cx + w / 2, world_h + 6),
                                      (int(rng.uniform(30, 70)), int(rng.uniform(90, 150)), 40)))

    cutaway = (-1.0, -1.0)
    if spec.duration >= 8 and rng.random() < 0.35:
        start = rng.uniform(2.5, spec.duration - 3.0)
        cutaway = (start, start + rng.uniform(1.6, 2.6))

    # camera: slow drift plus hand-held shake, in whole pixels
    drift = [(rng.uniform(1.5, 4.0), rng.uniform(0.05, 0.25), rng.uniform(0, 2 * math.pi))
             for _ in range(2)]
    shake = [(rng.uniform(0.0, 1.5), rng.uniform(1.0, 3.0), rng.uniform(0, 2 * math.pi))
             for _ in range(2)]

    def camera(t):
        off = []
        for (a1, f1, p1), (a2, f2, p2) in zip(drift, shake):
            v = a1 * math.sin(2 * math.pi * f1 * t + p1) + a2 * math.sin(2 * math.pi * f2 * t + p2)
            off.append(MARGIN + int(round(max(-MARGIN + 1, min(MARGIN - 1, v)))))
        return off[0], off[1]

    # written under a temporary name and moved into place when complete
    if video_file is None:
        final, tmp = clip_dir / spec.name, clip_dir / f'.{spec.name}.tmp'
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        output = [*one_second_segment_args(FIRST_SEC, FPS), str(tmp / '%d.mp4')]
    else:
        final, tmp = video_file, video_file.with_name(f'.{video_file.stem}.tmp.mp4')
        tmp.parent.mkdir(parents=True, exist_ok=True)
        output = [str(tmp)]
    cmd = [ffmpeg_exe(), '-y', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24',
           '-s', f'{FRAME_W}x{FRAME_H}', '-r', str(FPS), '-i', '-', *H264_ARGS, '-crf', '20',
           '-threads', '1', *output]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    keyframes: Dict[int, List[KeyframePerson]] = {}
    phases = [0.0] * len(actors)
    order = sorted(range(len(actors)), key=lambda i: actors[i].y_feet)
    try:
        for n in range(n_frames):
            t = n / FPS
            # advance the walkers and runners (turning round at the edges of the set)
            for i, actor in enumerate(actors):
                body = actor.segment_at(t).body
                if body in ('walk', 'run'):
                    phases[i] += 2 * math.pi * actor.cadence[body] / FPS
                    actor.x += actor.facing * actor.speed[body] / FPS
                    lo, hi = MARGIN - 0.1 * actor.height, world_w - MARGIN + 0.1 * actor.height
                    if not lo < actor.x < hi:
                        actor.x = min(max(actor.x, lo), hi)
                        actor.facing *= -1
            in_cutaway = cutaway[0] <= t < cutaway[1]
            ox, oy = camera(t)
            world = (cutaway_bg if in_cutaway else background).copy()
            figures = {i: _figure(actors[i], t, dict(phase=phases[i])) for i in order}
            if not in_cutaway:
                for i in order:
                    _draw(world, figures[i], (0, 0))
                for occ in occluders:
                    occ.draw(world)
            frame = world[oy:oy + FRAME_H, ox:ox + FRAME_W]
            proc.stdin.write(np.ascontiguousarray(frame).tobytes())

            sec = FIRST_SEC + n // FPS
            if n % FPS == 0 and FIRST_SEC + 2 <= sec <= FIRST_SEC + spec.duration - 2:
                keyframes[sec] = [] if in_cutaway else [
                    _keyframe_person(actors[i], i, t, figures[i], (ox, oy), occluders)
                    for i in range(len(actors))]
        proc.stdin.close()
        err = proc.stderr.read().decode(errors='replace')
        if proc.wait() != 0:
            raise RuntimeError(f'ffmpeg failed writing clips of {spec.name}: {err}')
    except BaseException:
        proc.kill()
        proc.wait()
        _remove(tmp)
        raise
    _remove(final)
    os.replace(tmp, final)
    return keyframes


def _remove(path: Path) -> None:
    """Delete a file or a folder tree if it is there."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def _keyframe_person(actor: Actor, index: int, t: float, prims, offset,
                     occluders: Sequence[Occluder]) -> KeyframePerson:
    full = _extent(prims) - np.array([offset[0], offset[1], offset[0], offset[1]])
    clipped = np.clip(full, [0, 0, 0, 0], [FRAME_W, FRAME_H, FRAME_W, FRAME_H])
    full_area = (full[2] - full[0]) * (full[3] - full[1])
    inside = max(0.0, clipped[2] - clipped[0]) * max(0.0, clipped[3] - clipped[1]) / full_area
    world_box = clipped + np.array([offset[0], offset[1], offset[0], offset[1]])
    hidden = max([occ.covered_fraction(world_box) for occ in occluders] + [0.0])
    visible = inside * (1.0 - hidden)
    annotated = visible >= 0.45 and clipped[2] - clipped[0] >= 4 and clipped[3] - clipped[1] >= 6
    return KeyframePerson(box=tuple(float(v) for v in clipped), actor=index,
                          action_ids=_labels(actor, t), visible=float(visible),
                          annotated=bool(annotated), shirt=tuple(actor.shirt))


# --------------------------------------------------------------------------- detections
def _detections(rng, persons: List[KeyframePerson]) -> List[Tuple[np.ndarray, float]]:
    """A plausible person detector's output at one keyframe: jittered boxes with high scores
    for most people, a few misses and low scores for occluded people, duplicates and false
    positives (some above the 0.8 threshold). Boxes xyxy stored-clip pixels."""
    dets = []

    def jitter(box, sigma):
        w, h = box[2] - box[0], box[3] - box[1]
        return box + rng.normal(0, sigma, 4) * np.array([w, h, w, h])

    for p in persons:
        box = np.array(p.box)
        if p.annotated:
            if rng.random() < 0.06:
                continue  # missed
            score = 0.985 - abs(rng.normal(0, 0.1)) - 0.4 * (1 - p.visible)
            dets.append((jitter(box, 0.04), score))
            if rng.random() < 0.08:
                dets.append((jitter(box, 0.15), score * rng.uniform(0.3, 0.8)))
        elif p.visible > 0.15 and rng.random() < 0.5:
            dets.append((jitter(box, 0.08), rng.uniform(0.2, 0.85)))
    for _ in range(rng.poisson(0.35)):
        h = rng.uniform(20, 80)
        w = h * rng.uniform(0.3, 0.7)
        x, y = rng.uniform(0, FRAME_W - w / 2), rng.uniform(0, FRAME_H - h / 2)
        score = rng.uniform(0.8, 0.95) if rng.random() < 0.15 else rng.uniform(0.05, 0.6)
        dets.append((np.array([x, y, x + w, y + h]), score))
    out = []
    for box, score in dets:
        box = np.clip(box, [0, 0, 0, 0], [FRAME_W, FRAME_H, FRAME_W, FRAME_H])
        if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
            out.append((box, float(np.clip(score, 0.01, 0.999))))
    return out


# --------------------------------------------------------------------------- driver
def _movie_names(rng, count: int) -> List[str]:
    """YouTube-like 11-character ids (letters, digits, '-' and '_'), as in real AVA."""
    alphabet = np.array(list('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'))
    names: List[str] = []
    while len(names) < count:
        name = ''.join(rng.choice(alphabet, 11))
        if name not in names:
            names.append(name)
    return names


def _render_task(args):
    spec, seed, clip_dir, video_dir = args
    video_file = None if video_dir is None else Path(video_dir) / f'{spec.name}.mp4'
    return _simulate_and_render(spec, seed, Path(clip_dir), video_file)


def render_movies(specs: Sequence[MovieSpec], seed: int, clip_dir: Path, workers: int = 2,
                  progress: bool = False, video_dir: Optional[Path] = None,
                  desc: str = 'mini-AVA movies') -> List[Dict[int, List[KeyframePerson]]]:
    """Render every movie (in ``workers`` processes); returns each one's keyframe people.

    Movies go to 1-second clips under ``clip_dir/<movie>/``, or with ``video_dir`` to one
    ``video_dir/<movie>.mp4`` each. Each movie draws from its own random stream
    (:meth:`MovieSpec.rng_key`), so the worker count does not change the files.
    """
    tasks = [(spec, seed, str(clip_dir), None if video_dir is None else str(video_dir))
             for spec in specs]
    if workers > 1 and len(specs) > 1:
        ctx = multiprocessing.get_context('fork' if os.name == 'posix' else 'spawn')
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            return list(_progress(pool.map(_render_task, tasks), len(tasks), progress, desc))
    return [_render_task(t) for t in _progress(tasks, len(tasks), progress, desc)]


def generate_mini_ava(out_dir, seed: int = 0, size: str = 'default', workers: int = 2,
                      progress: bool = False, class_set: str = 'ava') -> dict:
    """Write mini-AVA into ``out_dir`` (layout in the module docstring); returns the info dict.

    ``size`` names a preset in :data:`PRESETS`. ``class_set`` (:data:`CLASS_SETS`) chooses
    the labels written: ``'ava'`` (the 12 classes with AVA ids), ``'custom5'`` (5 classes,
    ids 3..250) or ``'custom100'`` (100 classes, ids 101..398); the videos are the same for
    a seed whatever the class set, and people with no label in the set are not annotated
    (as in a dataset labelled for those classes only). ``out_dir`` must be empty, absent, or an
    earlier mini-AVA (whose own files are replaced); anything else is refused, so a wrong
    path never deletes data.
    """
    if size not in PRESETS:
        raise ValueError(f'unknown mini-AVA size {size!r}; choose from {sorted(PRESETS)}')
    classes = label_map(class_set)  # refuses an unknown class set before any work
    preset = PRESETS[size]
    out_dir = Path(out_dir)
    previous = _previous_movies(out_dir)
    clip_dir = out_dir / 'clips' / 'trainval'
    clip_dir.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng([seed, 1_000_003])
    names = _movie_names(rng, preset.train_movies + preset.val_movies)
    specs = [MovieSpec(name, 'train' if i < preset.train_movies else 'val', i, preset.duration)
             for i, name in enumerate(names)]
    # until the end, the info file only says "incomplete" (no size/seed, so nothing takes an
    # interrupted run for a finished one) and lists every movie folder a re-run must clear
    write_json(out_dir / INFO_NAME, dict(generator=GENERATOR, complete=False,
                                         movies=dict(pending=sorted(set(previous + names)))))
    for movie in previous:
        shutil.rmtree(clip_dir / movie, ignore_errors=True)
    results = render_movies(specs, seed, clip_dir, workers, progress)

    ann_dir = out_dir / 'annotations'
    write_label_map(ann_dir / LABEL_MAP_NAME, classes)
    det_rng = np.random.default_rng([seed, 2_000_003])
    excluded: List[Tuple[str, int]] = []
    counts = {}
    for split in ('train', 'val'):
        split_specs = [(s, r) for s, r in zip(specs, results) if s.split == split]
        keyframes, persons = [], {}
        for spec, kf in split_specs:
            for sec, people in sorted(kf.items()):
                keyframes.append((spec.name, sec))
                labelled = [(p, relabel(p.action_ids, p.shirt, class_set)) for p in people
                            if p.annotated]
                persons[(spec.name, sec)] = [
                    (tuple(v / s for v, s in zip(p.box, (FRAME_W, FRAME_H) * 2)), p.actor,
                     labels) for p, labels in labelled if labels]
        if split == 'val':
            # a few keyframes left out of the ground truth, as the official exclusion list does
            n_exc = max(1, len(keyframes) // 40) if keyframes else 0
            picks = sorted(det_rng.choice(len(keyframes), n_exc, replace=False).tolist())
            excluded = [keyframes[i] for i in picks]
            keyframes = [k for k in keyframes if k not in set(excluded)]
        csv_path = ann_dir / f'ava_{split}_v2.2.csv'
        write_ground_truth_csv(csv_path, keyframes, persons)
        # the JSON is made from the CSV just written, exactly as
        # tools/data/ava/csv_to_min_json.py does
        min_json = build_min_json(read_ground_truth_csv(csv_path),
                                  {s.name: (FRAME_W, FRAME_H) for s, _ in split_specs})
        write_json(ann_dir / f'ava_{split}_v2.2_min.json', min_json)
        counts[split] = dict(movies=len(split_specs), keyframes=len(min_json['images']),
                             boxes=len(min_json['annotations']))
        if split == 'val':
            ids = keyframe_image_ids(min_json)
            results_list = []
            for spec, kf in split_specs:
                for sec, people in sorted(kf.items()):
                    if (spec.name, sec) not in ids:
                        continue
                    for box, score in _detections(det_rng, people):
                        results_list.append(dict(
                            image_id=ids[(spec.name, sec)], category_id=1,
                            bbox=[round(float(v), 2) for v in
                                  (box[0], box[1], box[2] - box[0], box[3] - box[1])],
                            score=round(score, 4)))
            write_json(out_dir / 'boxes' / 'ava_val_det_person_bbox.json', results_list)
            counts['val_detections'] = len(results_list)
    with atomic_open(ann_dir / 'ava_val_excluded_timestamps_v2.2.csv', 'w', encoding='utf-8') as f:
        f.writelines(f'{m},{t:04d}\n' for m, t in excluded)

    info = dict(generator=GENERATOR, complete=True, seed=seed, size=size,
                preset=preset.__dict__, frame_size=[FRAME_W, FRAME_H], fps=FPS,
                first_sec=FIRST_SEC, class_set=class_set,
                classes={str(k): v for k, v in classes.items()},
                movies={split: [s.name for s in specs if s.split == split]
                        for split in ('train', 'val')},
                counts=counts)
    write_json(out_dir / INFO_NAME, info)
    return info


def _previous_movies(out_dir: Path, info_name: str = INFO_NAME,
                     what: str = 'mini-AVA') -> List[str]:
    """Movies of an earlier dataset of this kind in ``out_dir`` (to be replaced), read from
    its ``info_name``; refuses a non-empty directory without that file, so a wrong path
    never loses data."""
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return []
    info_file = out_dir / info_name
    if not info_file.is_file():
        raise FileExistsError(
            f'{out_dir} is not empty and holds no {info_name}; refusing to write {what} '
            f'over it (choose an empty or new directory)')
    old = json.loads(info_file.read_text())
    return [m for movies in old.get('movies', {}).values() for m in movies
            if m and '/' not in m and m not in ('.', '..')]


def _progress(iterable, total: int, enabled: bool, desc: str = 'mini-AVA movies'):
    if not enabled:
        return iterable
    return progress_bar(iterable, total=total, desc=desc, unit='movie')
