# Everything `dabfusion generate` needs, in one folder: both stages, the adapters, the settings,
# each camera's empty studio and where its training dancers stand.


rule export_generator:
    input:
        unpack(generator_inputs),
    output:
        bundle=directory(P.result(GENERATOR)),
    params:
        music=config["music"],
        sampling=sampling_settings(),
        fps=config["extract"]["fps"],
        size=config["extract"]["size"],
        n_frames=BASE_N,
    log:
        P.log("export_generator"),
    resources:
        **cluster_resources("export_generator"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/export_generator.py"


# The paper's Figure 6: people the model never saw, each dancing to every test track.
rule unseen_dancer_photo:
    output:
        P.result("figure6/photos/{dancer}.png"),
    params:
        seed=config["synthetic"]["seed"],
    log:
        P.log("unseen_dancer_photo/{dancer}"),
    resources:
        **cluster_resources("unseen_dancer_photo"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/unseen_dancer_photo.py"


rule figure6:
    input:
        unpack(figure6_inputs),
    output:
        videos=report(
            directory(P.result("figure6/videos")),
            patterns=["{name}.mp4"],
            caption="../report/figure6.rst",
            category="Figure 6",
        ),
        sheet=report(P.result(FIGURE6_SHEET), caption="../report/figure6.rst", category="Figure 6"),
        table=P.result(FIGURE6_TABLE),
    params:
        dancers=FIGURE6_DANCERS,
        tracks=FIGURE6_TRACKS,
        seconds=config["figure6"]["seconds"],
        seed=config["figure6"]["seed"],
    log:
        P.log("figure6"),
    benchmark:
        P.benchmark("figure6")
    threads: JOB_THREADS
    resources:
        **cluster_resources("figure6", gpu=1 if config["sampling"]["device"] == "cuda" else 0),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/figure6.py"


# Figure 6 again with each repeat of the base setting (another stage-2 seed): its spread over seeds.
use rule export_generator as export_generator_repeat with:
    output:
        bundle=directory(figure6_repeat_file("generator")),
    log:
        P.log("export_generator/{variant}"),


use rule figure6 as figure6_repeat with:
    output:
        videos=directory(figure6_repeat_file("videos")),
        sheet=figure6_repeat_file("figure6.png"),
        table=figure6_repeat_file("figure6.csv"),
    log:
        P.log("figure6/{variant}"),
    benchmark:
        P.benchmark("figure6_{variant}")
