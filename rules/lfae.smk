# Stage 1: the latent flow auto-encoder, trained on frame pairs, evaluated on held-out clips.


rule train_lfae:
    input:
        clips=CLIPS,
    output:
        model=f"{MODELS}/lfae/model.safetensors",
        loss=report(f"{MODELS}/lfae/loss.csv", caption="../report/lfae_loss.rst", category="Stage 1"),
    params:
        lfae=lfae_config(),
        launcher=torchrun_launcher(config["lfae"]["gpus"]),
    log:
        f"{RESULTS}/logs/train_lfae.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_lfae.tsv"
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
        model=f"{MODELS}/lfae/model.safetensors",
    output:
        table=report(f"{RESULTS}/lfae/reconstruction.csv", caption="../report/lfae_eval.rst", category="Stage 1"),
        grid=report(f"{RESULTS}/lfae/reconstruction.png", caption="../report/lfae_grid.rst", category="Stage 1"),
    params:
        lfae=config["lfae"],
    log:
        f"{RESULTS}/logs/evaluate_lfae.log",
    resources:
        **cluster_resources("evaluate_lfae"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/evaluate_lfae.py"
