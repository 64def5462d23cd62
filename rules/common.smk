# Shared helpers: config validation, paths, targets. No rules here.
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from dabfusion.config import validate_config  # noqa: E402

# Validate when the DAG is built: an unknown or misspelt key fails here, naming the key.
config.update(validate_config(config))

DATA = config["data_dir"]
RESULTS = config["results_dir"]
PROCESSED = f"{DATA}/processed"
FEATURES = f"{DATA}/features"
MODELS = f"{RESULTS}/models"
WEIGHTS = config["music"]["weights_dir"]
BASE_N = config["clips"]["length"]  # clip length of stage 1, the adapters and the base variant
CLIPS = f"{PROCESSED}/clips_n{BASE_N}.parquet"
VARIANTS = config["diffusion"]["variants"]


wildcard_constraints:
    sequence=r"g[A-Z]{2}_s[A-Z]{2}_cAll_d\d{2}_m[A-Z]{2}\d_ch\d{2}",
    n=r"\d+",
    variant="|".join(VARIANTS),


def raw_manifest():
    """The file whose presence means the raw AIST++ layout under data_dir is complete."""
    return f"{DATA}/manifest.json"


def weight_source(wildcards):
    """URL and expected size of a checkpoint file named in config (music.clap, music.wav2clip)."""
    for key in ("clap", "wav2clip"):
        entry = config["music"][key]
        if entry["file"] == wildcards.file:
            return {"url": entry["url"], "size": entry["size"]}
    raise ValueError(f"no checkpoint named {wildcards.file!r} in config (music.clap.file, music.wav2clip.file)")


def music_feature_inputs(wildcards):
    """Clips and music; the checkpoints too when pretrained weights are required."""
    inputs = {"clips": f"{PROCESSED}/clips_n{wildcards.n}.parquet", "music": f"{PROCESSED}/music.csv"}
    if config["music"]["require_pretrained"]:
        inputs["clap"] = f"{WEIGHTS}/{config['music']['clap']['file']}"
        inputs["wav2clip"] = f"{WEIGHTS}/{config['music']['wav2clip']['file']}"
    return inputs


def lfae_config():
    """Stage-1 settings plus the frame size they train on (from extract.size)."""
    return {**config["lfae"], "image_size": config["extract"]["size"]}


def variant_frames(variant):
    """Clip length N of a diffusion variant."""
    return VARIANTS[variant]["frames"] or BASE_N


def diffusion_config(variant):
    """Stage-2 settings of one variant (its frames, beat and frame_rhythm over the shared ones)."""
    shared = {k: v for k, v in config["diffusion"].items() if k != "variants"}
    return {**shared, **VARIANTS[variant], "frames": variant_frames(variant), "variant": variant}


def diffusion_inputs(wildcards):
    n = variant_frames(wildcards.variant)
    return {
        "cache": f"{FEATURES}/flows_n{n}/meta.json",
        "lfae": f"{MODELS}/lfae/model.safetensors",
        "embedding": f"{FEATURES}/music_embedding_n{n}.parquet",
    }


def sampling_inputs(wildcards):
    n = variant_frames(wildcards.variant)
    return {
        "model": f"{MODELS}/diffusion/{wildcards.variant}/model.safetensors",
        "lfae": f"{MODELS}/lfae/model.safetensors",
        "clips": f"{PROCESSED}/clips_n{n}.parquet",
        "embedding": f"{FEATURES}/music_embedding_n{n}.parquet",
        "music": f"{PROCESSED}/music.csv",
    }


def torchrun_launcher(gpus):
    """How a training script re-launches itself on several GPUs (empty: run in-process)."""
    return f"torchrun --standalone --nproc_per_node={gpus}" if gpus > 1 else ""


def default_targets():
    targets = [
        CLIPS,
        f"{FEATURES}/music_embedding_n{BASE_N}.parquet",
        f"{RESULTS}/music/adapter_eval.csv",
        f"{RESULTS}/lfae/reconstruction.csv",
        *[f"{RESULTS}/samples/{v}/samples.csv" for v in VARIANTS],
    ]
    if config["source"] == "synthetic":  # checks against the generator's ground truth
        targets += [
            f"{RESULTS}/dataset/stills.png",
            f"{RESULTS}/dataset/beats.png",
            f"{RESULTS}/dataset/checks.csv",
        ]
    return targets
