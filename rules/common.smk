# Shared helpers: config validation, paths, targets. No rules here.
import json
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from snakemake.exceptions import WorkflowError  # noqa: E402

from dabfusion.config import check_cluster_rules, check_interpreter_path, validate_config  # noqa: E402
from dabfusion.plan import (  # noqa: E402
    ADAPTER_EVAL,
    BASE,
    BASELINES,
    FIGURE6_REPEAT,
    FIGURE6_SHEET,
    FIGURE6_TABLE,
    GENERATOR,
    LEARNING_CURVE,
    LOSS_CURVES,
    RUNTIMES,
    SEEDS_TABLE,
    SIDE_BY_SIDE,
    STAGE1_CEILING,
    STAGE1_GRID,
    STAGE1_TABLE,
    SUMMARY,
    TABLES,
    Methods,
    Paths,
)
from dabfusion.report import figure6_plan  # noqa: E402

# Validate when the DAG is built: an unknown or misspelt key fails here, naming the key.
config.update(validate_config(config))
check_interpreter_path(sys.executable)

# every artefact path comes from the plan (dabfusion/plan.py), shared with the tables and scripts
P = Paths(data=config["data_dir"], results=config["results_dir"])
METHODS = Methods.of(config)
WEIGHTS = config["music"]["weights_dir"]
BASE_N = config["clips"]["length"]  # clip length of stage 1, the adapters and the base variant
CLIPS = P.clips(BASE_N)
# the frame stores (processed/frames/*.npy) are listed by the shard files that extract_frames
# writes with them; a job that loads frames through a clip index declares these too
FRAME_SHARDS = [P.frames_shard(s) for s in range(config["extract"]["shards"])]
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


wildcard_constraints:
    sequence=r"g[A-Z]{2}_s[A-Z]{2}_cAll_d\d{2}_m[A-Z]{2}\d_ch\d{2}",
    n=r"\d+",
    dancer=r"d\d{2}",
    k=r"[1-6]",
    variant="|".join(VARIANTS),
    baseline="|".join(BASELINES),
    method="|".join(METHODS.all),


def raw_manifest():
    """The file whose presence means the raw AIST++ layout under data_dir is complete."""
    return P.manifest


def weight_source(wildcards):
    """URL and expected size of a checkpoint file named in config (music.clap, music.wav2clip)."""
    for key in ("clap", "wav2clip"):
        entry = config["music"][key]
        if entry["file"] == wildcards.file:
            return {"url": entry["url"], "size": entry["size"]}
    raise ValueError(f"no checkpoint named {wildcards.file!r} in config (music.clap.file, music.wav2clip.file)")


def music_feature_inputs(wildcards):
    """Clips and music; the checkpoints too when pretrained weights are required."""
    inputs = {"clips": P.clips(wildcards.n), "music": P.music_table}
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
    return 10 if wildcards.variant == BASE else 0


def cached_clips(n):
    """Training clips whose stage-2 targets are cached at clip length n: as many frames as
    max_train_clips clips of the base length (longer clips, fewer of them)."""
    m = config["diffusion"]["max_train_clips"]
    return None if m is None else max(1, m * BASE_N // n)


def diffusion_config(variant):
    """Stage-2 settings of one variant (its frames, beat and frame_rhythm over the shared ones)."""
    shared = {k: v for k, v in config["diffusion"].items() if k != "variants"}
    own = {k: v for k, v in VARIANTS[variant].items() if not (k == "seed" and v is None)}
    cfg = {**shared, **own, "frames": variant_frames(variant), "variant": variant}
    if not (cfg["p_drop_beats"] and cfg["beat"]):  # no beats dropped: the settings of a run from before the switch
        del cfg["p_drop_beats"]
    return cfg


def calibration_config(variant):
    """What calibrating a variant's guidance reads: how it samples and the calibration itself, not the
    test clips' settings (max_clips, seed) nor the scale it replaces, so changing those does not recalibrate."""
    s = sampling_config(variant)
    return {k: s[k] for k in ("sampler", "steps", "eta", "threshold_percentile", "batch_size", "device", "guide",
                              "calibration") if k in s}


def sampling_settings(beat=True):
    """config["sampling"] as jobs get it: without sampling.guide while it is the paper's (music), so
    the jobs of a run from before the switch keep their parameters and are not redone, nor for a
    model without beats (``beat`` False), which guides on its music whatever it says."""
    s = config["sampling"]
    return {k: v for k, v in s.items() if k != "guide"} if s["guide"] == "music" or not beat else s


def sampling_config(variant):
    """Sampling settings of one variant: a variant with its own seed draws its own noise."""
    s = sampling_settings(VARIANTS[variant]["beat"])
    seed = VARIANTS[variant]["seed"]
    return s if seed is None else {**s, "noise_seed": s["seed"] + seed}


def snapshot_epochs():
    """Epochs after which stage 2 keeps its EMA weights for the learning curve (diffusion.snapshot_every)."""
    every = config["diffusion"]["snapshot_every"]
    return list(range(every, config["diffusion"]["epochs"], every)) if every else []


def snapshot_files(variant):
    return [P.snapshot(variant, e) for e in snapshot_epochs()]


def diffusion_inputs(wildcards):
    n = variant_frames(wildcards.variant)
    return {
        "cache": P.flows(n),  # the script finds the other cache files beside it
        **{f"cache_{k}": f for k, f in P.flow_files(n).items() if k != "meta"},
        "lfae": P.lfae,
        "embedding": P.music_embedding(n),
    }


def guidance_input(variant):
    """The variant's calibrated guidance file as an input, when sampling.calibration is on."""
    return {"guidance": P.guidance(variant)} if config["sampling"]["calibration"]["enabled"] else {}


def scored_guidance_files():
    """The calibrated guidance of every variant a table scores (for the summary), when calibration is on."""
    if not config["sampling"]["calibration"]["enabled"]:
        return []
    return [P.guidance(v) for v in scored_methods() if v in VARIANTS]


def calibration_inputs(wildcards):
    n = variant_frames(wildcards.variant)
    return {
        "model": P.diffusion(wildcards.variant),
        "lfae": P.lfae,
        "clips": P.clips(n),
        "frames": FRAME_SHARDS,
        "embedding": P.music_embedding(n),
    }


def sampling_inputs(wildcards):
    """What sampling reads: what calibration reads, the music, and the calibrated guidance when on."""
    return {**calibration_inputs(wildcards), "music": P.music_table, **guidance_input(wildcards.variant)}


def baseline_inputs(wildcards):
    """A baseline runs on DabFusion's own test clips; retrieval also needs stage 1 and its flows."""
    inputs = {"reference": P.samples(BASE), "frames": FRAME_SHARDS, "music": P.music_table}
    if wildcards.baseline == "retrieval":
        inputs.update(lfae=P.lfae, cache=P.flows(BASE_N), embedding=P.music_embedding(BASE_N),
                      **{f"cache_{k}": f for k, f in P.flow_files(BASE_N).items() if k != "meta"})
    return inputs


def external_folder(name):
    if name not in EXTERNAL:
        raise ValueError(f"no external videos named {name!r} in evaluation.external")
    return EXTERNAL[name]


def scored_samples(wildcards):
    return P.samples(wildcards.method)


def table_methods(k):
    """The methods of table k that this config has (an ablation needs its variant)."""
    return METHODS.for_table(TABLES[k])


def available_tables():
    """Tables 1-4 always; 5 and 6 when their ablation variants are configured."""
    return METHODS.tables()


def table_inputs(wildcards):
    k = int(wildcards.k)
    if k not in available_tables():
        raise ValueError(f"table{k} needs the variants {list(TABLES[k].methods)} in diffusion.variants")
    inputs = TABLES[k].inputs(P, table_methods(k))
    inputs["embedding"] = P.music_embedding(BASE_N)
    return inputs


def loss_inputs(wildcards):
    inputs = {"stage 1": P.lfae_loss}
    inputs.update({f"stage 2 {v}": P.diffusion_loss(v) for v in VARIANTS})
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
        P.music_embedding(BASE_N),
        P.result(ADAPTER_EVAL),
        P.result(STAGE1_TABLE),
        *[P.samples(v) for v in VARIANTS],
        *[P.table(k) for k in available_tables()],
        P.result(SIDE_BY_SIDE),
        P.result(LOSS_CURVES),
        P.result(FIGURE6_SHEET),
        P.result(RUNTIMES),
    ]
    targets += optional_results() + [P.result(SUMMARY)]
    if config["source"] == "synthetic":  # checks against the generator's ground truth
        targets += [
            P.result("dataset/stills.png"),
            P.result("dataset/beats.png"),
            P.result("dataset/checks.csv"),
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


def seed_table_methods():
    """Every repeated variant, and the ground truth and the baselines to compare."""
    return ["gt", *BASELINES, *[v for g in seed_groups().values() for v in g]]


def seed_table_inputs(wildcards):
    """The repeats' scores, and Figure 6 of the base variant and of each of its repeats."""
    return {**P.score_inputs(seed_table_methods()), **{f"figure6_{v}": f for v, f in figure6_tables().items()}}


def figure6_repeats():
    """The base variant's repeats with other seeds: Figure 6 is made again with each."""
    return [v for v in seed_groups().get(BASE, {}) if v != BASE]


def figure6_tables():
    """{variant: its Figure 6 table} for the base variant and its repeats; empty without repeats."""
    repeats = figure6_repeats()
    if not repeats:
        return {}
    return {BASE: P.result(FIGURE6_TABLE), **{v: figure6_repeat_file("figure6.csv", v) for v in repeats}}


def figure6_repeat_file(name, variant="{variant}"):
    """A file of Figure 6 made with a repeat of the base setting."""
    return P.result(f"{FIGURE6_REPEAT.format(variant=variant)}/{name}")


def generator_inputs(wildcards):
    """The bundle's files: the base variant's stage 2, or a repeat's (``wildcards.variant``)."""
    variant = wildcards.get("variant", BASE)
    return {"lfae": P.lfae, "unet": P.diffusion(variant), "style": P.adapter("style"),
            "movement": P.adapter("movement"), "clips": CLIPS, "frames": FRAME_SHARDS,
            **guidance_input(variant)}


def figure6_inputs(wildcards):
    """The generator bundle (the base variant's, or a repeat's) and what Figure 6 shows it."""
    bundle = figure6_repeat_file("generator", wildcards.variant) if wildcards.get("variant") else P.result(GENERATOR)
    return {"bundle": bundle, "photos": expand(P.result("figure6/photos/{dancer}.png"), dancer=FIGURE6_DANCERS),
            "music": P.music_table}


def optional_results():
    """The learning curve and the seeds table, when the config asks for them."""
    return ([P.result(LEARNING_CURVE)] if snapshot_epochs() else []) + (
        [P.result(SEEDS_TABLE)] if seed_groups() else [])


def scored_methods():
    """Every method some table or the seeds table scores."""
    methods = [m for k in available_tables() for m in table_methods(k)]
    if seed_groups():
        methods += seed_table_methods()
    return list(dict.fromkeys(methods))


def benchmark_files():
    """The benchmark: file of every heavy job of this run, for the time table (runtimes.csv)."""
    lengths = sorted({variant_frames(v) for v in VARIANTS} | {BASE_N})
    jobs = ["synthesize_dataset" if config["source"] == "synthetic" else "download_videos", "train_adapters",
            "train_lfae", "figure6"]
    jobs += [f"extract_frames_{s}" for s in range(config["extract"]["shards"])]
    jobs += [f"{rule}_n{n}" for rule in ("music_features", "flow_cache") for n in lengths]
    jobs += [f"{rule}_{v}" for rule in ("train_diffusion", "sample_videos") for v in VARIANTS]
    jobs += [f"calibrate_guidance_{v}" for v in VARIANTS] if config["sampling"]["calibration"]["enabled"] else []
    jobs += [f"baseline_videos_{b}" for b in BASELINES] + [f"score_videos_{m}" for m in scored_methods()]
    jobs += ["learning_curve"] if snapshot_epochs() else []
    jobs += [f"figure6_{v}" for v in figure6_repeats()]
    return [P.benchmark(job) for job in jobs]


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
