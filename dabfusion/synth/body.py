"""An articulated 17-joint figure (COCO joint order) and per-dancer looks.

World frame: metres, y up, the dancer's neutral facing is +z (towards camera c01) and the
dancer's left is +x. A pose is a dict of joint angles (radians) and root offsets, each an
array over frames; ``forward_kinematics`` turns it into (T, 17, 3) joint positions and the
extra points the renderer needs (pelvis, neck, head centre, toes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COCO_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# Degrees of freedom of a pose. Angles in radians; root_x/root_z in metres.
DOFS = (
    "root_x", "root_z", "root_yaw",
    "spine_lean", "spine_side", "spine_twist", "head_pitch", "head_yaw",
    "l_sh_flex", "l_sh_abd", "l_elbow", "r_sh_flex", "r_sh_abd", "r_elbow",
    "l_hip_flex", "l_hip_abd", "l_knee", "r_hip_flex", "r_hip_abd", "r_knee",
)
ANKLE_HEIGHT = 0.07


@dataclass(frozen=True)
class Dancer:
    """Proportions (metres) and looks (RGB in [0, 1]) of one dancer id."""

    dancer_id: str
    pelvis_half_width: float
    spine: float
    shoulder_half_width: float
    neck: float
    head_radius: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    girth: float  # multiplies every limb radius
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    hair_style: str  # short | long | bald
    top: tuple[float, float, float]
    top_alt: tuple[float, float, float]
    top_pattern: str  # solid | stripes | checks
    long_sleeves: bool
    bottom: tuple[float, float, float]
    shorts: bool
    shoes: tuple[float, float, float]


_SKIN = [(0.98, 0.84, 0.72), (0.93, 0.75, 0.60), (0.80, 0.60, 0.45), (0.66, 0.46, 0.32),
         (0.48, 0.32, 0.22), (0.36, 0.24, 0.17)]
_HAIR = [(0.08, 0.06, 0.05), (0.30, 0.18, 0.08), (0.62, 0.45, 0.22), (0.85, 0.72, 0.45),
         (0.55, 0.15, 0.08), (0.75, 0.75, 0.78)]


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    import colorsys

    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def make_dancer(dancer_id: str, seed: int) -> Dancer:
    """Deterministic proportions and clothing for an AIST++ dancer id such as 'd04'."""
    rng = np.random.default_rng([seed, int(dancer_id[1:]), 7919])
    scale = rng.uniform(0.88, 1.08)  # about 1.55 m .. 1.90 m tall
    leg = scale * rng.uniform(0.94, 1.06)
    arm = scale * rng.uniform(0.94, 1.06)
    hue = rng.uniform()
    return Dancer(
        dancer_id=dancer_id,
        pelvis_half_width=scale * rng.uniform(0.09, 0.13),
        spine=scale * rng.uniform(0.48, 0.54),
        shoulder_half_width=scale * rng.uniform(0.15, 0.21),
        neck=scale * 0.2,
        head_radius=scale * rng.uniform(0.10, 0.12),
        upper_arm=arm * 0.29,
        forearm=arm * 0.27,
        thigh=leg * 0.43,
        shin=leg * 0.42,
        girth=rng.uniform(0.8, 1.35),
        skin=_SKIN[rng.integers(len(_SKIN))],
        hair=_HAIR[rng.integers(len(_HAIR))],
        hair_style=("short", "long", "bald")[rng.choice(3, p=[0.5, 0.35, 0.15])],
        top=_hsv(hue, rng.uniform(0.4, 0.95), rng.uniform(0.45, 0.95)),
        top_alt=_hsv(hue + rng.uniform(0.3, 0.7), rng.uniform(0.0, 0.6), rng.uniform(0.2, 1.0)),
        top_pattern=("solid", "stripes", "checks")[rng.integers(3)],
        long_sleeves=bool(rng.integers(2)),
        bottom=_hsv(rng.uniform(), rng.uniform(0.0, 0.7), rng.uniform(0.12, 0.7)),
        shorts=bool(rng.uniform() < 0.3),
        shoes=_hsv(rng.uniform(), rng.uniform(0.0, 0.5), rng.uniform(0.05, 0.95)),
    )


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _apply(r: np.ndarray, v) -> np.ndarray:
    """Rotate a fixed vector (3,) or per-frame vectors (T, 3) by per-frame rotations (T, 3, 3)."""
    v = np.asarray(v, dtype=np.float64)
    return np.einsum("tij,tj->ti", r, np.broadcast_to(v, (r.shape[0], 3)))


@dataclass
class Skeleton:
    """Joint positions over T frames."""

    joints: np.ndarray  # (T, 17, 3), COCO order
    pelvis: np.ndarray  # (T, 3)
    neck: np.ndarray  # (T, 3)
    head: np.ndarray  # (T, 3) head centre
    head_rot: np.ndarray  # (T, 3, 3)
    toes: np.ndarray  # (T, 2, 3) left, right


def forward_kinematics(pose: dict[str, np.ndarray], d: Dancer) -> Skeleton:
    """Joint positions from a pose (each DOF an array of T values) and a dancer's proportions.

    The pelvis height is set each frame so that the lower ankle rests on the floor; bent
    knees therefore lower the whole body, as they would.
    """
    t = len(pose["root_yaw"])
    r_root = _rot_y(pose["root_yaw"])
    r_torso = r_root @ _rot_y(pose["spine_twist"]) @ _rot_x(pose["spine_lean"]) @ _rot_z(pose["spine_side"])
    r_head = r_torso @ _rot_y(pose["head_yaw"]) @ _rot_x(pose["head_pitch"])
    pelvis = np.zeros((t, 3))  # height fixed below
    pelvis[:, 0], pelvis[:, 2] = pose["root_x"], pose["root_z"]

    def limb(root_r, origin, side, flex, abd, bend, l1, l2, bend_sign):
        # side = +1 for the dancer's left (+x); abduction swings a limb outwards to its side;
        # flexion swings it forwards (+z); arms bend forwards at the elbow, legs backwards.
        r1 = root_r @ _rot_z(side * abd) @ _rot_x(-flex)
        mid = origin + _apply(r1, (0.0, -l1, 0.0))
        r2 = r1 @ _rot_x(bend_sign * bend)
        end = mid + _apply(r2, (0.0, -l2, 0.0))
        return mid, end, r2

    hips = [pelvis + _apply(r_root, (s * d.pelvis_half_width, 0.0, 0.0)) for s in (1, -1)]
    legs = [
        limb(r_root, hips[i], s, pose[f"{p}_hip_flex"], pose[f"{p}_hip_abd"], pose[f"{p}_knee"],
             d.thigh, d.shin, +1.0)
        for i, (s, p) in enumerate(((1, "l"), (-1, "r")))
    ]
    # ground the figure: lift everything so the lower ankle sits at ANKLE_HEIGHT
    lowest = np.minimum(legs[0][1][:, 1], legs[1][1][:, 1])
    lift = ANKLE_HEIGHT - lowest
    up = np.stack([np.zeros(t), lift, np.zeros(t)], -1)
    pelvis = pelvis + up
    hips = [h + up for h in hips]
    legs = [(k + up, a + up, r) for k, a, r in legs]

    neck = pelvis + _apply(r_torso, (0.0, d.spine, 0.0))
    shoulders = [neck + _apply(r_torso, (s * d.shoulder_half_width, -0.03, 0.0)) for s in (1, -1)]
    arms = [
        limb(r_torso, shoulders[i], s, pose[f"{p}_sh_flex"], pose[f"{p}_sh_abd"], pose[f"{p}_elbow"],
             d.upper_arm, d.forearm, -1.0)
        for i, (s, p) in enumerate(((1, "l"), (-1, "r")))
    ]
    head = neck + _apply(r_head, (0.0, d.neck, 0.0))
    hr = d.head_radius
    nose = head + _apply(r_head, (0.0, -0.15 * hr, 0.95 * hr))
    eyes = [head + _apply(r_head, (s * 0.35 * hr, 0.2 * hr, 0.85 * hr)) for s in (1, -1)]
    ears = [head + _apply(r_head, (s * 0.95 * hr, 0.0, 0.0)) for s in (1, -1)]
    toes = np.stack([a + _apply(r_root, (0.0, -ANKLE_HEIGHT * 0.7, 0.16 * d.thigh / 0.43))
                     for _, a, _ in legs], 1)
    joints = np.stack(
        [nose, eyes[0], eyes[1], ears[0], ears[1], shoulders[0], shoulders[1],
         arms[0][0], arms[1][0], arms[0][1], arms[1][1], hips[0], hips[1],
         legs[0][0], legs[1][0], legs[0][1], legs[1][1]],
        axis=1,
    )
    return Skeleton(joints, pelvis, neck, head, r_head, toes)
