"""Beat-keyed choreography: a movement vocabulary per genre, basic (sBM) and advanced (sFM) dances.

A dance is a list of key poses, one per key instant. Key instants sit on music beats (every
beat, or every second beat for slow styles), moved by a small per-choreography human timing
jitter. Between two key instants every DOF follows the same ease curve, whose velocity is
zero at both ends, so the body's speed has its minima exactly at the key instants: the
kinematic beats fall on music beats by construction, and the generator knows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import DOFS


@dataclass(frozen=True)
class GenreStyle:
    arm: float  # shoulder swing amplitude (rad)
    arm_lift: float  # mean shoulder abduction (rad); high for overhead styles
    elbow: float  # elbow bend amplitude (rad)
    leg: float  # hip swing amplitude (rad)
    stance: float  # mean hip abduction (rad): stance width
    knee_base: float  # mean knee bend (rad): how low the dancer sits
    knee: float  # knee bend amplitude (rad): bounce
    lean: float  # torso lean / side bend amplitude (rad)
    twist: float  # torso twist amplitude (rad)
    step: float  # lateral step size (m)
    turn: float  # body turn amplitude (rad)
    beats_per_key: int  # 1: a key pose each beat; 2: every second beat
    ease: str  # smooth | sharp


GENRE_STYLES: dict[str, GenreStyle] = {
    "BR": GenreStyle(1.2, 0.5, 1.2, 0.7, 0.25, 0.8, 0.6, 0.45, 0.5, 0.25, 0.9, 1, "smooth"),
    "PO": GenreStyle(1.4, 0.4, 1.6, 0.2, 0.12, 0.2, 0.25, 0.12, 0.3, 0.08, 0.3, 1, "sharp"),
    "LO": GenreStyle(1.6, 0.6, 1.2, 0.35, 0.15, 0.35, 0.5, 0.3, 0.3, 0.12, 0.4, 1, "sharp"),
    "MH": GenreStyle(1.0, 0.3, 1.0, 0.3, 0.15, 0.35, 0.45, 0.3, 0.35, 0.2, 0.4, 1, "smooth"),
    "LH": GenreStyle(1.2, 0.4, 1.3, 0.35, 0.18, 0.4, 0.4, 0.35, 0.55, 0.15, 0.5, 1, "smooth"),
    "HO": GenreStyle(0.6, 0.3, 0.8, 0.6, 0.12, 0.4, 0.5, 0.2, 0.3, 0.3, 0.6, 1, "smooth"),
    "WA": GenreStyle(2.2, 1.4, 2.0, 0.15, 0.12, 0.2, 0.2, 0.15, 0.25, 0.08, 0.3, 1, "sharp"),
    "KR": GenreStyle(1.5, 0.6, 1.8, 0.3, 0.35, 0.6, 0.4, 0.5, 0.4, 0.15, 0.3, 1, "sharp"),
    "JS": GenreStyle(1.8, 0.8, 1.0, 0.6, 0.15, 0.3, 0.4, 0.4, 0.5, 0.2, 1.0, 1, "smooth"),
    "JB": GenreStyle(1.2, 1.9, 0.4, 1.1, 0.1, 0.1, 0.2, 0.3, 0.3, 0.25, 1.4, 2, "smooth"),
}
MOVES_PER_GENRE = 10  # basic moves ch01..ch10, as in AIST++'s sBM
SFM_BEATS_PER_MOVE = 8


def _key_pose(style: GenreStyle, rng: np.random.Generator) -> dict[str, float]:
    u = lambda a: float(rng.uniform(-a, a))  # noqa: E731
    p = {
        "root_x": u(style.step), "root_z": u(style.step * 0.5), "root_yaw": u(style.turn),
        "spine_lean": u(style.lean), "spine_side": u(style.lean * 0.6), "spine_twist": u(style.twist),
        "head_pitch": u(0.3), "head_yaw": u(0.5),
    }
    support = "lr"[rng.integers(2)]  # one leg carries the weight and stays under the hip
    for side in "lr":
        p[f"{side}_sh_flex"] = u(style.arm)
        p[f"{side}_sh_abd"] = max(0.05, style.arm_lift + u(style.arm * 0.8))
        p[f"{side}_elbow"] = float(rng.uniform(0.05, 0.05 + style.elbow))
        knee = max(0.0, style.knee_base + u(style.knee))
        swing = u(0.15) if side == support else max(-0.4, u(style.leg))
        p[f"{side}_knee"] = knee
        p[f"{side}_hip_flex"] = 0.5 * knee + swing  # thigh forward as the knee bends: balance
        p[f"{side}_hip_abd"] = max(0.0, style.stance + u(style.leg * (0.15 if side == support else 0.4)))
    return p


def _mirror(p: dict[str, float]) -> dict[str, float]:
    """The same pose to the other side: swap limbs, negate lateral offsets and turns."""
    m = dict(p)
    for name in ("sh_flex", "sh_abd", "elbow", "hip_flex", "hip_abd", "knee"):
        m[f"l_{name}"], m[f"r_{name}"] = p[f"r_{name}"], p[f"l_{name}"]
    for name in ("root_x", "root_yaw", "spine_side", "spine_twist", "head_yaw"):
        m[name] = -p[name]
    return m


def genre_vocabulary(genre: str, seed: int) -> list[list[dict[str, float]]]:
    """MOVES_PER_GENRE basic moves of a genre; each is a cycle of 2 or 4 key poses.

    Four-pose moves are a pose, a variation, then their mirror images, so every move travels
    left and right and returns (the dancer stays near the centre of the stage).
    """
    style = GENRE_STYLES[genre]
    rng = np.random.default_rng([seed, sum(map(ord, genre)), 31])
    moves = []
    for _ in range(MOVES_PER_GENRE):
        a = _key_pose(style, rng)
        if rng.uniform() < 0.5:
            moves.append([a, _mirror(a)])
        else:
            b = _key_pose(style, rng)
            moves.append([a, b, _mirror(a), _mirror(b)])
    return moves


def neutral_pose() -> dict[str, float]:
    p = {k: 0.0 for k in DOFS}
    p.update(l_sh_abd=0.12, r_sh_abd=0.12, l_elbow=0.15, r_elbow=0.15, l_hip_abd=0.06, r_hip_abd=0.06)
    return p


@dataclass
class Dance:
    pose: dict[str, np.ndarray]  # each DOF over frames
    key_times: np.ndarray  # seconds: instants of the key poses = ground-truth kinematic beats
    key_beats: np.ndarray  # index of the music beat each key instant belongs to


def _ease(u: np.ndarray, kind: str) -> np.ndarray:
    if kind == "sharp":  # smootherstep: faster in the middle, still zero speed at both ends
        return u * u * u * (u * (6 * u - 15) + 10)
    return u * u * (3 - 2 * u)  # smoothstep


def choreograph(
    genre: str,
    situation: str,
    choreo: int,
    beat_times: np.ndarray,
    n_frames: int,
    fps: float,
    seed: int,
    timing_jitter: float,
    sequence_key: str,
) -> Dance:
    """The dance of one sequence, sampled at ``fps`` for ``n_frames`` frames.

    sBM: the genre's basic move number ``choreo`` repeated. sFM: a chain of moves chosen by
    the choreography number, SFM_BEATS_PER_MOVE beats each. ``sequence_key`` seeds the
    per-performance variation (amplitude, jitter), so two dancers doing the same
    choreography differ a little, as people do.
    """
    style = GENRE_STYLES[genre]
    vocab = genre_vocabulary(genre, seed)
    rng = np.random.default_rng([seed, abs(hash_str(sequence_key)) % (2**31)])
    if situation == "sBM":
        cycle = vocab[(choreo - 1) % len(vocab)]
        plan = lambda i: cycle[i % len(cycle)]  # noqa: E731
    else:
        chain_rng = np.random.default_rng([seed, sum(map(ord, genre)), choreo, 97])
        order = chain_rng.permutation(len(vocab))
        per_move = max(1, SFM_BEATS_PER_MOVE // style.beats_per_key)

        def plan(i):
            move = vocab[order[(i // per_move) % len(order)]]
            return move[i % len(move)]

    gain = rng.uniform(0.85, 1.1)
    key_beats = np.arange(0, len(beat_times), style.beats_per_key)
    jitter = np.clip(rng.normal(0.0, timing_jitter, len(key_beats)), -2 * timing_jitter, 2 * timing_jitter)
    key_times = beat_times[key_beats] + jitter if timing_jitter > 0 else beat_times[key_beats].copy()
    neutral = neutral_pose()
    keys = [neutral] + [
        {k: neutral[k] + gain * (v - neutral[k]) for k, v in plan(i).items()} for i in range(len(key_times))
    ]
    # The dancer holds the neutral pose until one key interval before the first key instant.
    first_gap = (key_times[1] - key_times[0]) if len(key_times) > 1 else 60.0 / 100
    times = np.concatenate([[key_times[0] - first_gap], key_times])
    t = np.arange(n_frames) / fps
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
    nxt = np.minimum(seg + 1, len(times) - 1)
    span = np.maximum(times[nxt] - times[seg], 1e-9)
    u = np.where(nxt > seg, np.clip((t - times[seg]) / span, 0.0, 1.0), 0.0)
    u = np.where(t < times[0], 0.0, _ease(u, style.ease))
    pose = {}
    for k in DOFS:
        vals = np.array([key[k] for key in keys])
        pose[k] = vals[seg] + (vals[nxt] - vals[seg]) * u
    return Dance(pose=pose, key_times=key_times, key_beats=key_beats)


def hash_str(s: str) -> int:
    """A stable (not per-process salted) hash of a string."""
    import zlib

    return zlib.crc32(s.encode("utf-8"))
