# Stage 1: the latent flow auto-encoder, trained on frame pairs, evaluated on held-out clips.


rule train_lfae:
    input:
        clips=CLIPS,
        frames=FRAME_SHARDS,
    output:
        model=P.lfae,
        loss=report(P.lfae_loss, caption="../report/lfae_loss.rst", category="Stage 1"),
    params:
        lfae=lfae_config(),
        launcher=torchrun_launcher(config["lfae"]["gpus"]),
    log:
        P.log("train_lfae"),
    benchmark:
        P.benchmark("train_lfae")
    threads: CORES  # everything after it waits for it: it gets every core, whatever threads_per_job says
    resources:
        **cluster_resources("train_lfae", gpu=config["lfae"]["gpus"] if config["lfae"]["device"] == "cuda" else 0),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/train_lfae.py"


rule evaluate_lfae:
    input:
        clips=CLIPS,
        frames=FRAME_SHARDS,
        model=P.lfae,
    output:
        table=report(P.result(STAGE1_TABLE), caption="../report/lfae_eval.rst", category="Stage 1"),
        grid=report(P.result(STAGE1_GRID), caption="../report/lfae_grid.rst", category="Stage 1"),
    params:
        lfae=config["lfae"],
    log:
        P.log("evaluate_lfae"),
    resources:
        **cluster_resources("evaluate_lfae"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/evaluate_lfae.py"
