# Everything `dabfusion generate` needs, in one folder: both stages, the adapters, the settings,
# each camera's empty studio and where its training dancers stand.


rule export_generator:
    input:
        lfae=f"{MODELS}/lfae/model.safetensors",
        unet=f"{MODELS}/diffusion/base/model.safetensors",
        style=f"{MODELS}/adapters/style_adapter.safetensors",
        movement=f"{MODELS}/adapters/movement_adapter.safetensors",
        clips=CLIPS,
    output:
        bundle=directory(f"{RESULTS}/generator"),
    params:
        music=config["music"],
        sampling=config["sampling"],
        fps=config["extract"]["fps"],
        size=config["extract"]["size"],
        n_frames=BASE_N,
    log:
        f"{RESULTS}/logs/export_generator.log",
    resources:
        **cluster_resources("export_generator"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/export_generator.py"


# The paper's Figure 6: people the model never saw, each dancing to every test track.
rule unseen_dancer_photo:
    output:
        f"{RESULTS}/figure6/photos/{{dancer}}.png",
    params:
        seed=config["synthetic"]["seed"],
    log:
        f"{RESULTS}/logs/unseen_dancer_photo/{{dancer}}.log",
    resources:
        **cluster_resources("unseen_dancer_photo"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/unseen_dancer_photo.py"


rule figure6:
    input:
        bundle=f"{RESULTS}/generator",
        photos=expand(f"{RESULTS}/figure6/photos/{{dancer}}.png", dancer=FIGURE6_DANCERS),
        music=f"{PROCESSED}/music.csv",
    output:
        videos=report(
            directory(f"{RESULTS}/figure6/videos"),
            patterns=["{name}.mp4"],
            caption="../report/figure6.rst",
            category="Figure 6",
        ),
        sheet=report(f"{RESULTS}/figure6/figure6.png", caption="../report/figure6.rst", category="Figure 6"),
        table=f"{RESULTS}/figure6/figure6.csv",
    params:
        dancers=FIGURE6_DANCERS,
        tracks=FIGURE6_TRACKS,
        seconds=config["figure6"]["seconds"],
        seed=config["figure6"]["seed"],
    log:
        f"{RESULTS}/logs/figure6.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure6.tsv"
    threads: JOB_THREADS
    resources:
        **cluster_resources("figure6", gpu=1 if config["sampling"]["device"] == "cuda" else 0),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/figure6.py"
