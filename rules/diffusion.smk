# Stage 2: flow targets from the frozen stage 1, the music-conditioned 3D U-Net per variant
# (a wildcard, so the paper's ablations are just targets), and the generated test videos.


rule flow_cache:
    input:
        lfae=P.lfae,
        clips=P.clips("{n}"),
        frames=FRAME_SHARDS,
    output:
        **P.flow_files("{n}"),
    params:
        max_clips=lambda wildcards: cached_clips(int(wildcards.n)),
        seed=config["diffusion"]["seed"],
    log:
        P.log("flow_cache_n{n}"),
    benchmark:
        P.benchmark("flow_cache_n{n}")
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
        model=P.diffusion("{variant}"),
        loss=report(
            P.diffusion_loss("{variant}"),
            caption="../report/diffusion_loss.rst",
            category="Stage 2",
            subcategory="{variant}",
        ),
    params:
        diffusion=lambda wildcards: diffusion_config(wildcards.variant),
        launcher=torchrun_launcher(config["diffusion"]["gpus"]),
    log:
        P.log("train_diffusion_{variant}"),
    benchmark:
        P.benchmark("train_diffusion_{variant}")
    threads: JOB_THREADS
    priority: base_first
    resources:
        **cluster_resources("train_diffusion", gpu=config["diffusion"]["gpus"] if config["diffusion"]["device"] == "cuda" else 0),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/train_diffusion.py"


rule calibrate_guidance:
    input:
        unpack(calibration_inputs),
    output:
        guidance=P.guidance("{variant}"),
    params:
        sampling=lambda wildcards: calibration_config(wildcards.variant),
    log:
        P.log("calibrate_guidance_{variant}"),
    benchmark:
        P.benchmark("calibrate_guidance_{variant}")
    threads: JOB_THREADS
    priority: base_first
    resources:
        **cluster_resources("calibrate_guidance", gpu=1 if config["sampling"]["device"] == "cuda" else 0),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/calibrate_guidance.py"


rule sample_videos:
    input:
        unpack(sampling_inputs),
    output:
        manifest=report(
            P.samples("{variant}"),
            caption="../report/samples.rst",
            category="Stage 2",
            subcategory="{variant}",
        ),
    params:
        sampling=lambda wildcards: sampling_config(wildcards.variant),
    log:
        P.log("sample_videos_{variant}"),
    benchmark:
        P.benchmark("sample_videos_{variant}")
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
        snapshots=snapshot_files(BASE),
        model=P.diffusion(BASE),
        cache=P.flows(BASE_N),
        lfae=P.lfae,
        clips=P.clips(BASE_N),
        frames=FRAME_SHARDS,
        embedding=P.music_embedding(BASE_N),
        beats=P.evaluation_beats,
        **guidance_input(BASE),
    output:
        csv=report(P.result(LEARNING_CURVE), caption="../report/learning_curve.rst", category="Training"),
        png=P.result("report/learning_curve.png"),
    params:
        epochs=snapshot_epochs() + [config["diffusion"]["epochs"]],
        diffusion=lambda wildcards: diffusion_config(BASE),
        sampling=sampling_settings(),
        evaluation=config["evaluation"],
    log:
        P.log("learning_curve"),
    benchmark:
        P.benchmark("learning_curve")
    threads: JOB_THREADS
    resources:
        **cluster_resources("learning_curve"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/learning_curve.py"
