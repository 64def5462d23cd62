# Shared helpers: config validation, paths, targets. No rules here.
import json
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from snakemake.exceptions import WorkflowError  # noqa: E402

from dabfusion.baselines import BASELINES  # noqa: E402
from dabfusion.config import check_cluster_rules, validate_config  # noqa: E402
from dabfusion.report import figure6_plan  # noqa: E402
from dabfusion.tables import TABLE_METHODS as PAPER_TABLE_METHODS  # noqa: E402

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
FIGURE6_DANCERS, FIGURE6_TRACKS = figure6_plan(config)


def available_cores():
    """--cores of a local run; a cluster run has none: there a job may ask for cluster.cpus_per_job."""
    try:
        return workflow.cores
    except WorkflowError:
        return config["cluster"]["cpus_per_job"]


CORES = available_cores()
# threads of each torch job: all cores (one at a time), or fewer so that jobs run side by side
JOB_THREADS = min(config["threads_per_job"] or CORES, CORES)


EXTERNAL = config["evaluation"]["external"]
# the paper's tables and the methods each is built from; other systems' videos join Table 1
TABLE_METHODS = {k: list(v) for k, v in PAPER_TABLE_METHODS.items()}
TABLE_METHODS[1] += [f"ext_{n}" for n in EXTERNAL]


wildcard_constraints:
    sequence=r"g[A-Z]{2}_s[A-Z]{2}_cAll_d\d{2}_m[A-Z]{2}\d_ch\d{2}",
    n=r"\d+",
    dancer=r"d\d{2}",
    k=r"[1-6]",
    variant="|".join(VARIANTS),
    baseline="|".join(BASELINES),
    method="|".join(["gt", *BASELINES, *VARIANTS, *[f"ext_{n}" for n in EXTERNAL]]),


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


def base_first(wildcards):
    """Scheduling priority: the base variant's baselines, scoring and most tables wait for it."""
    return 10 if wildcards.variant == "base" else 0


def cached_clips(n):
    """Training clips whose stage-2 targets are cached at clip length n: as many frames as
    max_train_clips clips of the base length (longer clips, fewer of them)."""
    m = config["diffusion"]["max_train_clips"]
    return None if m is None else max(1, m * BASE_N // n)


def diffusion_config(variant):
    """Stage-2 settings of one variant (its frames, beat and frame_rhythm over the shared ones)."""
    shared = {k: v for k, v in config["diffusion"].items() if k != "variants"}
    own = {k: v for k, v in VARIANTS[variant].items() if not (k == "seed" and v is None)}
    return {**shared, **own, "frames": variant_frames(variant), "variant": variant}


def sampling_config(variant):
    """Sampling settings of one variant: a variant with its own seed draws its own noise."""
    seed = VARIANTS[variant]["seed"]
    return config["sampling"] if seed is None else {**config["sampling"], "noise_seed": config["sampling"]["seed"] + seed}


def snapshot_epochs():
    """Epochs after which stage 2 keeps its EMA weights for the learning curve (diffusion.snapshot_every)."""
    every = config["diffusion"]["snapshot_every"]
    return list(range(every, config["diffusion"]["epochs"], every)) if every else []


def snapshot_files(variant):
    return [f"{MODELS}/diffusion/{variant}/snapshots/epoch{e:04d}.safetensors" for e in snapshot_epochs()]


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


def baseline_inputs(wildcards):
    """A baseline runs on DabFusion's own test clips; retrieval also needs stage 1 and its flows."""
    inputs = {"reference": f"{RESULTS}/samples/base/samples.csv", "music": f"{PROCESSED}/music.csv"}
    if wildcards.baseline == "retrieval":
        inputs.update(lfae=f"{MODELS}/lfae/model.safetensors", cache=f"{FEATURES}/flows_n{BASE_N}/meta.json",
                      embedding=f"{FEATURES}/music_embedding_n{BASE_N}.parquet")
    return inputs


def external_folder(name):
    if name not in EXTERNAL:
        raise ValueError(f"no external videos named {name!r} in evaluation.external")
    return EXTERNAL[name]


def samples_of(method):
    """The manifest of the videos a method is scored on (the ground truth: the base variant's clips)."""
    return f"{RESULTS}/samples/{'base' if method == 'gt' else method}/samples.csv"


def scored_samples(wildcards):
    return samples_of(wildcards.method)


def table_methods(k):
    """The methods of table k that this config has (an ablation needs its variant)."""
    have = {"gt", *BASELINES, *VARIANTS, *[f"ext_{n}" for n in EXTERNAL]}
    return [m for m in TABLE_METHODS[k] if m in have]


def available_tables():
    """Tables 1-4 always; 5 and 6 when their ablation variants are configured."""
    return [k for k in TABLE_METHODS if k <= 4 or len(table_methods(k)) >= 2]


def table_inputs(wildcards):
    k = int(wildcards.k)
    if k not in available_tables():
        raise ValueError(f"table{k} needs the variants {TABLE_METHODS[k]} in diffusion.variants")
    methods = table_methods(k)
    inputs = {m: f"{RESULTS}/eval/{m}/per_video.csv" for m in methods}
    inputs.update({f"samples_{m}": samples_of(m) for m in methods})
    inputs["embedding"] = f"{FEATURES}/music_embedding_n{BASE_N}.parquet"
    return inputs


def loss_inputs(wildcards):
    inputs = {"stage 1": f"{MODELS}/lfae/loss.csv"}
    inputs.update({f"stage 2 {v}": f"{MODELS}/diffusion/{v}/loss.csv" for v in VARIANTS})
    return inputs


def cluster_resources(rule, gpu=0):
    """A rule's job size (config cluster: runtime in minutes, mem_mb) and, for SLURM, where it
    runs: partition and account, and for GPU jobs the GPU count and model (the slurm executor
    turns gpu and gpu_model into --gpus=model:N). A local run ignores all but gpu."""
    c = config["cluster"]
    size = {**c["default"], **c["rules"].get(rule, {})}
    res = {"runtime": size["runtime"], "mem_mb": size["mem_mb"], "gpu": gpu}
    partition = (c["gpu_partition"] or c["partition"]) if gpu else c["partition"]
    if partition:
        res["slurm_partition"] = partition
    if c["account"]:
        res["slurm_account"] = c["account"]
    if gpu and c["gpu_model"]:
        res["gpu_model"] = c["gpu_model"]
    return res


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
        *[f"{RESULTS}/table{k}.csv" for k in available_tables()],
        f"{RESULTS}/report/side_by_side",
        f"{RESULTS}/report/loss_curves.png",
        f"{RESULTS}/figure6/figure6.png",
        f"{RESULTS}/runtimes.csv",
    ]
    targets += optional_results() + [f"{RESULTS}/summary.md"]
    if config["source"] == "synthetic":  # checks against the generator's ground truth
        targets += [
            f"{RESULTS}/dataset/stills.png",
            f"{RESULTS}/dataset/beats.png",
            f"{RESULTS}/dataset/checks.csv",
        ]
    return targets


def seed_groups():
    """Variants that repeat one setting with other seeds: {setting: {variant: seed}}, two or more each.

    A setting is a variant's keys but its seed; it is named after its seed-less member if any."""
    groups = {}
    for v, spec in VARIANTS.items():
        key = json.dumps({k: x for k, x in spec.items() if k != "seed"}, sort_keys=True)
        groups.setdefault(key, {})[v] = spec["seed"] if spec["seed"] is not None else config["diffusion"]["seed"]
    named = {}
    for members in groups.values():
        if len(members) >= 2:
            plain = [v for v in members if VARIANTS[v]["seed"] is None]
            named[plain[0] if plain else next(iter(members))] = dict(sorted(members.items(), key=lambda kv: kv[1]))
    return named


def seed_table_inputs(wildcards):
    """Every repeated variant's scores, and the ground truth's and the baselines' to compare."""
    methods = ["gt", *BASELINES, *[v for g in seed_groups().values() for v in g]]
    return {m: f"{RESULTS}/eval/{m}/per_video.csv" for m in methods}


def optional_results():
    """The learning curve and the seeds table, when the config asks for them."""
    return ([f"{RESULTS}/report/learning_curve.csv"] if snapshot_epochs() else []) + (
        [f"{RESULTS}/seeds.csv"] if seed_groups() else [])


def workflow_commit():
    """The checkout's commit (+ "-dirty" with uncommitted changes), for the summary; "unknown" outside git."""
    import subprocess

    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=workflow.basedir, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_seeds():
    return {k: config[k]["seed"] for k in ("synthetic", "music", "lfae", "diffusion", "sampling", "evaluation")
            if k in config and "seed" in config[k]}
