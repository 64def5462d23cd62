# Stage 2: flow targets from the frozen stage 1, the music-conditioned 3D U-Net per variant
# (a wildcard, so the paper's ablations are just targets), and the generated test videos.


rule flow_cache:
    input:
        lfae=f"{MODELS}/lfae/model.safetensors",
        clips=f"{PROCESSED}/clips_n{{n}}.parquet",
    output:
        grids=f"{FEATURES}/flows_n{{n}}/grids.npy",
        occlusion=f"{FEATURES}/flows_n{{n}}/occlusion.npy",
        z0=f"{FEATURES}/flows_n{{n}}/z0.npy",
        index=f"{FEATURES}/flows_n{{n}}/index.parquet",
        meta=f"{FEATURES}/flows_n{{n}}/meta.json",
    params:
        max_clips=lambda wildcards: cached_clips(int(wildcards.n)),
        seed=config["diffusion"]["seed"],
    log:
        f"{RESULTS}/logs/flow_cache_n{{n}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/flow_cache_n{{n}}.tsv"
    threads: JOB_THREADS
    resources:
        **cluster_resources("flow_cache"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/flow_cache.py"


rule train_diffusion:
    input:
        unpack(diffusion_inputs),
    output:
        *snapshot_files("{variant}"),
        model=f"{MODELS}/diffusion/{{variant}}/model.safetensors",
        loss=report(
            f"{MODELS}/diffusion/{{variant}}/loss.csv",
            caption="../report/diffusion_loss.rst",
            category="Stage 2",
            subcategory="{variant}",
        ),
    params:
        diffusion=lambda wildcards: diffusion_config(wildcards.variant),
        launcher=torchrun_launcher(config["diffusion"]["gpus"]),
    log:
        f"{RESULTS}/logs/train_diffusion_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_diffusion_{{variant}}.tsv"
    threads: JOB_THREADS
    priority: base_first
    resources:
        **cluster_resources("train_diffusion", gpu=config["diffusion"]["gpus"] if config["diffusion"]["device"] == "cuda" else 0),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/train_diffusion.py"


rule sample_videos:
    input:
        unpack(sampling_inputs),
    output:
        manifest=report(
            f"{RESULTS}/samples/{{variant}}/samples.csv",
            caption="../report/samples.rst",
            category="Stage 2",
            subcategory="{variant}",
        ),
    params:
        sampling=lambda wildcards: sampling_config(wildcards.variant),
    log:
        f"{RESULTS}/logs/sample_videos_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sample_videos_{{variant}}.tsv"
    threads: JOB_THREADS
    priority: base_first
    resources:
        **cluster_resources("sample_videos", gpu=1 if config["sampling"]["device"] == "cuda" else 0),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/sample_videos.py"


rule learning_curve:
    input:
        snapshots=snapshot_files("base"),
        model=f"{MODELS}/diffusion/base/model.safetensors",
        cache=f"{FEATURES}/flows_n{BASE_N}/meta.json",
        lfae=f"{MODELS}/lfae/model.safetensors",
        clips=f"{PROCESSED}/clips_n{BASE_N}.parquet",
        embedding=f"{FEATURES}/music_embedding_n{BASE_N}.parquet",
        beats=f"{FEATURES}/evaluation_beats.parquet",
    output:
        csv=report(f"{RESULTS}/report/learning_curve.csv", caption="../report/learning_curve.rst", category="Training"),
        png=f"{RESULTS}/report/learning_curve.png",
    params:
        epochs=snapshot_epochs() + [config["diffusion"]["epochs"]],
        diffusion=lambda wildcards: diffusion_config("base"),
        sampling=config["sampling"],
        evaluation=config["evaluation"],
    log:
        f"{RESULTS}/logs/learning_curve.log",
    benchmark:
        f"{RESULTS}/benchmarks/learning_curve.tsv"
    threads: JOB_THREADS
    resources:
        **cluster_resources("learning_curve"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/learning_curve.py"
