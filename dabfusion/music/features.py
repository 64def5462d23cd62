"""Music features for every clip window, motion descriptors, adapters, and the final e.

Rule by rule (rules/music.smk):
  music_features   clips.parquet + processed music -> windows.parquet (CLAP, Wav2CLIP,
                   rhythm per unique music window) and tracks.parquet (tempo, beats)
  motion_features  clips.parquet + frames -> motion.parquet (motion descriptor per clip)
  train_adapters   -> style/movement adapters (safetensors) + adapter_eval.csv
  music_embedding  -> embedding.parquet: e_c, e_w, e_b per window (e = music_embedding(...))
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..aist import GENRES
from ..checkpoints import write_safetensors_atomic
from ..frames import load_clip
from ..io import write_table_atomic
from .adapters import TrainSettings, genre_accuracy, retrieval_accuracy, train_movement, train_style
from .audio import resample
from .backbones import embed, load_clap, load_wav2clip
from .embedding import (
    MOVEMENT_DIM,
    STYLE_DIM,
    embedding_schema,
    read_vectors,
    vector_field,
    window_id,
    windows_schema,
    write_vectors,
)
from .motion import MOTION_DIM, motion_descriptor
from .rhythm import clip_rhythm, track_rhythm

log = logging.getLogger(__name__)
GENRE_INDEX = {g: i for i, g in enumerate(GENRES)}


def with_window_ids(clips: pd.DataFrame) -> pd.DataFrame:
    clips = clips.copy()
    clips["window_id"] = [window_id(m, s, n, f) for m, s, n, f in
                          zip(clips.music_id, clips.start_frame, clips.n_frames, clips.fps)]
    return clips


def clap_context(start: float, end: float, track_seconds: float, context: float | None,
                 hop: float) -> tuple[float, float]:
    """(start, end) in s of the audio CLAP embeds for the music window [start, end).

    ``context`` None: the window itself (the paper; CLAP repeat-pads it to 10 s). Else the
    ``context``-second segment, from a grid of starts every ``hop`` s (plus one ending at the
    track's end), whose centre is nearest the window's: CLAP sees real music of its native
    length, and windows share segments, so a track costs a few CLAP calls instead of one per window.
    """
    if context is None or context <= end - start:
        return start, end
    if track_seconds <= context:
        return 0.0, track_seconds
    last = track_seconds - context
    starts = np.unique(np.append(np.arange(0.0, last + 1e-9, hop), last))
    centre = (start + end) / 2
    s = float(starts[np.argmin(np.abs(starts + context / 2 - centre))])
    return s, s + context


@dataclass
class WindowFeatures:
    clap: np.ndarray  # (W, 512)
    wav2clip: np.ndarray  # (W, 512)
    rhythm: np.ndarray  # (W, n_frames * 6)
    clap_inputs: int  # distinct CLAP inputs (windows share context segments)
    clap_seconds: float
    wav2clip_seconds: float


def _embed_windows(tracks: dict, windows: list[tuple[str, float, int, float]], clap, w2c, mcfg: dict,
                   progress: bool = False) -> WindowFeatures:
    """CLAP, Wav2CLIP and rhythm features of music windows (music_id, start s, n_frames, fps).

    ``tracks[music_id]`` = (TrackRhythm, samples at CLAP's rate, samples at Wav2CLIP's rate).
    """
    context, hop = mcfg["clap"]["context_seconds"], mcfg["clap"]["context_hop_seconds"]
    clap_segments: dict[tuple[str, float, float], int] = {}  # unique CLAP inputs
    clap_of_window, w48, w16, rhythm_rows = [], [], [], []
    for music_id, start, n_frames, fps in windows:
        end = start + n_frames / fps
        tr, a48, a16 = tracks[music_id]
        seg = (music_id, *clap_context(start, end, len(a48) / clap.sample_rate, context, hop))
        if seg not in clap_segments:
            clap_segments[seg] = len(w48)
            w48.append(a48[int(seg[1] * clap.sample_rate):int(seg[2] * clap.sample_rate)])
        clap_of_window.append(clap_segments[seg])
        w16.append(a16[int(start * w2c.sample_rate):int(end * w2c.sample_rate)])
        rhythm_rows.append(clip_rhythm(tr, start, n_frames, fps).reshape(-1))
    t0 = time.perf_counter()
    e_clap = embed(clap, w48, mcfg["batch_size"], progress=progress)[clap_of_window]
    t_clap = time.perf_counter() - t0
    t0 = time.perf_counter()
    e_w2c = embed(w2c, w16, mcfg["batch_size"], progress=progress)
    t_w2c = time.perf_counter() - t0
    return WindowFeatures(e_clap, e_w2c, np.stack(rhythm_rows), len(w48), t_clap, t_w2c)


def song_windows(samples: np.ndarray, sr: int, starts: list[float], n_frames: int, fps: float, mcfg: dict,
                 backbones=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CLAP, Wav2CLIP and rhythm features of windows of any song (``dabfusion generate``):
    the same computation as the music_features rule, for windows starting at ``starts`` s."""
    clap, w2c = backbones if backbones is not None else load_backbones(mcfg)
    tracks = {"song": (track_rhythm(samples, sr), resample(samples, sr, clap.sample_rate),
                       resample(samples, sr, w2c.sample_rate))}
    f = _embed_windows(tracks, [("song", s, n_frames, fps) for s in starts], clap, w2c, mcfg)
    return f.clap, f.wav2clip, f.rhythm


def load_backbones(mcfg: dict):
    wdir = Path(mcfg["weights_dir"])
    clap = load_clap(wdir / mcfg["clap"]["file"], mcfg["clap"]["url"], mcfg["require_pretrained"], mcfg["seed"])
    w2c = load_wav2clip(wdir / mcfg["wav2clip"]["file"], mcfg["wav2clip"]["url"], mcfg["require_pretrained"],
                        mcfg["seed"])
    return clap, w2c


def compute_music_features(clips_file: Path, music_csv: Path, mcfg: dict, out_windows: Path, out_tracks: Path) -> dict:
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    started = time.perf_counter()
    clips = with_window_ids(pd.read_parquet(clips_file))
    windows = clips.drop_duplicates("window_id").sort_values("window_id").reset_index(drop=True)
    n_frames = int(clips.n_frames.iloc[0])
    music = pd.read_csv(music_csv).set_index("music_id")
    clap, w2c = load_backbones(mcfg)
    rhythms, track_rows = {}, []
    seconds_of_music = 0.0
    for music_id in sorted(windows.music_id.unique()):
        sr = int(music.loc[music_id, "sample_rate"])
        samples = np.load(music.loc[music_id, "file"])
        seconds_of_music += len(samples) / sr
        tr = track_rhythm(samples, sr)
        rhythms[music_id] = (tr, resample(samples, sr, clap.sample_rate), resample(samples, sr, w2c.sample_rate))
        track_rows.append({"music_id": music_id, "tempo": tr.tempo, "n_beats": len(tr.beats),
                           "beats": tr.beats.tolist(), "downbeats": tr.downbeats.tolist()})
    f = _embed_windows(rhythms, [(w.music_id, w.start_frame / w.fps, w.n_frames, w.fps) for w in windows.itertuples()],
                       clap, w2c, mcfg, progress=True)
    write_vectors(out_windows, {
        "window_id": windows.window_id.tolist(), "music_id": windows.music_id.tolist(),
        "start": (windows.start_frame / windows.fps).tolist(),
        "end": ((windows.start_frame + windows.n_frames) / windows.fps).tolist(),
        "clap_pretrained": [clap.pretrained] * len(windows), "wav2clip_pretrained": [w2c.pretrained] * len(windows),
        "clap": f.clap, "wav2clip": f.wav2clip, "rhythm": f.rhythm,
    }, windows_schema(n_frames))
    write_table_atomic(out_tracks, pd.DataFrame(track_rows))
    window_seconds = float(((windows.n_frames) / windows.fps).sum())
    stats = {"windows": len(windows), "clap_inputs": f.clap_inputs,
             "clap_context_seconds": mcfg["clap"]["context_seconds"],
             "tracks": len(track_rows), "seconds_of_music": seconds_of_music,
             "window_seconds": window_seconds, "clap_s": f.clap_seconds, "wav2clip_s": f.wav2clip_seconds,
             "total_s": time.perf_counter() - started,
             "clap_pretrained": clap.pretrained, "wav2clip_pretrained": w2c.pretrained}
    log.info("music features: %s", json.dumps(stats))
    return stats


def compute_motion(clips_file: Path, out: Path) -> None:
    clips = pd.read_parquet(clips_file)
    desc = np.stack([motion_descriptor(load_clip(c.frames_file, c.start_frame, c.n_frames))
                     for c in clips.itertuples()]) if len(clips) else np.zeros((0, MOTION_DIM), np.float32)
    schema = pa.schema([pa.field("clip_id", pa.string(), nullable=False), vector_field("motion", MOTION_DIM)])
    write_vectors(out, {"clip_id": clips.clip_id.tolist(), "motion": desc}, schema)


def _settings(mcfg: dict) -> TrainSettings:
    a = mcfg["adapters"]
    return TrainSettings(epochs=a["epochs"], lr=a["lr"], batch_size=a["batch_size"],
                         weight_decay=a["weight_decay"], temperature=a["temperature"], seed=mcfg["seed"])


def train_adapters(clips_file: Path, windows_file: Path, motion_file: Path, mcfg: dict,
                   out_style: Path, out_movement: Path, out_eval: Path) -> pd.DataFrame:
    """Fit both adapters on training music, measure them and their linear baselines on test music."""
    s = _settings(mcfg)
    clips = with_window_ids(pd.read_parquet(clips_file))
    win, _ = read_vectors(windows_file)
    widx = {w: i for i, w in enumerate(win["window_id"])}
    wsplit = clips.drop_duplicates("window_id").set_index("window_id")
    split = np.array([wsplit.loc[w, "split"] for w in win["window_id"]])
    genre = np.array([GENRE_INDEX[wsplit.loc[w, "genre"]] for w in win["window_id"]])
    tr, te = split == "train", split == "test"
    rows = []
    pretrained = {"clap": bool(win["clap_pretrained"][0]), "wav2clip": bool(win["wav2clip_pretrained"][0])}

    style = train_style(win["clap"][tr], genre[tr], len(GENRES), s)
    probe = train_style(win["clap"][tr], genre[tr], len(GENRES), s, linear=True)
    for variant, model in (("adapter (MLP 512)", style), ("frozen + linear probe", probe)):
        rows.append({"adapter": "style", "backbone": "clap", "variant": variant, "metric": "genre_accuracy",
                     "value": genre_accuracy(model, win["clap"][te], genre[te]),
                     "train_value": genre_accuracy(model, win["clap"][tr], genre[tr]),
                     "n_train": int(tr.sum()), "n_test": int(te.sum()), "chance": 1 / len(set(genre[te])),
                     "backbone_pretrained": pretrained["clap"]})

    mot, _ = read_vectors(motion_file)
    midx = {c: i for i, c in enumerate(mot["clip_id"])}
    audio = win["wav2clip"][[widx[w] for w in clips.window_id]]
    motion = mot["motion"][[midx[c] for c in clips.clip_id]]
    ctr, cte = (clips.split == "train").to_numpy(), (clips.split == "test").to_numpy()
    movement = train_movement(audio[ctr], motion[ctr], s, d_out=MOVEMENT_DIM)
    linear = train_movement(audio[ctr], motion[ctr], s, d_out=MOVEMENT_DIM, linear=True)
    for variant, model in (("adapter (MLP 512)", movement), ("frozen + linear map", linear)):
        top1, top5 = retrieval_accuracy(model, audio[cte], motion[cte], seed=s.seed)
        for metric, value in (("retrieval_top1@32", top1), ("retrieval_top5@32", top5)):
            rows.append({"adapter": "movement", "backbone": "wav2clip", "variant": variant, "metric": metric,
                         "value": value, "train_value": np.nan, "n_train": int(ctr.sum()), "n_test": int(cte.sum()),
                         "chance": 1 / 32 if metric.endswith("top1@32") else 5 / 32,
                         "backbone_pretrained": pretrained["wav2clip"]})
    table = pd.DataFrame(rows)
    table["note"] = np.where(table.backbone_pretrained, "",
                             "backbone is a seeded random init (no pretrained weights); synthetic data")
    for model, path in ((style, out_style), (movement, out_movement)):
        write_safetensors_atomic(path, model.state_dict(),
                                 {"kind": type(model).__name__, "config": json.dumps(mcfg["adapters"])})
    write_table_atomic(out_eval, table)
    log.info("adapter evaluation:\n%s", table.to_string(index=False))
    return table


def load_adapters(style_file: Path, movement_file: Path, windows_n_in: int = 512):
    """Rebuild both adapters from their safetensors files (weights only, no code)."""
    from safetensors.torch import load_file

    from .adapters import MovementModel, StyleModel

    style = StyleModel(windows_n_in, len(GENRES), STYLE_DIM)
    style.load_state_dict(load_file(str(style_file)))
    mstate = load_file(str(movement_file))
    movement = MovementModel(windows_n_in, mstate["motion.weight"].shape[1], MOVEMENT_DIM)
    movement.load_state_dict(mstate)
    return style.eval(), movement.eval()


def compute_embeddings(windows_file: Path, style_file: Path, movement_file: Path, out: Path) -> None:
    """e_c, e_w, e_b per window: what the diffusion model is conditioned on."""
    import torch

    win, schema = read_vectors(windows_file)
    style, movement = load_adapters(style_file, movement_file)
    with torch.no_grad():
        e_c = style.encode(torch.from_numpy(win["clap"])).numpy()
        e_w = movement.encode(torch.from_numpy(win["wav2clip"])).numpy()
    n_frames = int(schema.metadata[b"n_frames"])
    write_vectors(out, {"window_id": list(win["window_id"]), "clap_pretrained": list(win["clap_pretrained"]),
                        "wav2clip_pretrained": list(win["wav2clip_pretrained"]),
                        "e_c": e_c, "e_w": e_w, "e_b": win["rhythm"]}, embedding_schema(n_frames))
