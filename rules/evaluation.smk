# Evaluation: baselines on DabFusion's test clips, every metric per video, the paper's Tables
# 1-6, side-by-side videos and the per-rule time table. `snakemake results/table2.csv`
# builds just what Table 2 needs.


rule baseline_videos:
    input:
        unpack(baseline_inputs),
    output:
        manifest=P.samples("{baseline}"),
    log:
        P.log("baseline_videos_{baseline}"),
    benchmark:
        P.benchmark("baseline_videos_{baseline}")
    threads: JOB_THREADS
    resources:
        **cluster_resources("baseline_videos"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/baseline_videos.py"


rule external_samples:
    input:
        reference=P.samples(BASE),
    output:
        manifest=P.samples("ext_{name}"),
    params:
        folder=lambda wildcards: external_folder(wildcards.name),
    log:
        P.log("external_samples_{name}"),
    resources:
        **cluster_resources("external_samples"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/external_samples.py"


rule track_beats:
    input:
        music=P.music_table,
    output:
        beats=P.evaluation_beats,
    log:
        P.log("track_beats"),
    resources:
        **cluster_resources("track_beats"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/track_beats.py"


rule score_videos:
    input:
        samples=scored_samples,
        frames=FRAME_SHARDS,
        music=P.music_table,
        beats=P.evaluation_beats,
    output:
        rows=P.scores("{method}"),
        features=P.scores("{method}", "i3d.npz"),
        meta=P.scores("{method}", "per_video.json"),
    params:
        evaluation=config["evaluation"],
        music=config["music"],
    log:
        P.log("score_videos_{method}"),
    benchmark:
        P.benchmark("score_videos_{method}")
    threads: JOB_THREADS
    resources:
        **cluster_resources("score_videos"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/score_videos.py"


rule make_table:
    input:
        unpack(table_inputs),
    output:
        csv=report(P.table("{k}"), caption="../report/table.rst", category="Tables",
                   labels={"table": "{k}", "file": "csv"}),
        md=P.table("{k}", "md"),
        png=report(P.table("{k}", "png"), caption="../report/table.rst", category="Tables",
                   labels={"table": "{k}", "file": "figure"}),
        meta=P.table("{k}", "json"),
    params:
        methods=lambda wildcards: table_methods(int(wildcards.k)),
        source=config["source"],
    log:
        P.log("table{k}"),
    resources:
        **cluster_resources("make_table"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/make_table.py"


rule seed_table:
    input:
        unpack(seed_table_inputs),
    output:
        csv=report(P.result(SEEDS_TABLE), caption="../report/seeds.rst", category="Tables"),
        md=P.result("seeds.md"),
    params:
        groups=seed_groups(),
        methods=seed_table_methods(),
        figure6=list(figure6_tables()),
        source=config["source"],
    log:
        P.log("seed_table"),
    resources:
        **cluster_resources("make_table"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/seed_table.py"


rule comparison_videos:
    input:
        samples=P.samples(BASE),
        frames=FRAME_SHARDS,
        music=P.music_table,
    output:
        videos=report(directory(P.result(SIDE_BY_SIDE)), patterns=["{name}.mp4"],
                      caption="../report/side_by_side.rst", category="Videos"),
    params:
        n=config["evaluation"]["report_videos"],
    log:
        P.log("comparison_videos"),
    resources:
        **cluster_resources("comparison_videos"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/comparison_videos.py"


rule loss_curves:
    input:
        unpack(loss_inputs),
    output:
        png=report(P.result(LOSS_CURVES), caption="../report/loss_curves.rst", category="Training"),
    log:
        P.log("loss_curves"),
    resources:
        **cluster_resources("loss_curves"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/loss_curves.py"


rule runtime_table:
    input:
        benchmarks=benchmark_files(),  # every heavy job of the run: the wall time covers them all
    output:
        csv=report(P.result(RUNTIMES), caption="../report/runtimes.rst", category="Budget"),
    log:
        P.log("runtime_table"),
    resources:
        **cluster_resources("runtime_table"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/runtime_table.py"


rule stage1_ceiling:
    input:
        lfae=P.lfae,
        clips=P.clips(BASE_N),
        frames=FRAME_SHARDS,
        beats=P.evaluation_beats,
    output:
        csv=report(P.result(STAGE1_CEILING), caption="../report/stage1_ceiling.rst", category="Stage 1"),
    params:
        sampling=sampling_settings(),
    log:
        P.log("stage1_ceiling"),
    threads: JOB_THREADS
    resources:
        **cluster_resources("stage1_ceiling"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/stage1_ceiling.py"


rule summary:
    input:
        tables=[P.table(k) for k in available_tables()],
        figure6=P.result(FIGURE6_TABLE),
        stage1=P.result(STAGE1_TABLE),
        stage1_ceiling=P.result(STAGE1_CEILING),
        table1_meta=P.table(1, "json"),
        runtimes=P.result(RUNTIMES),
        extra=optional_results(),
        guidance=scored_guidance_files(),
    output:
        md=P.result(SUMMARY),
    params:
        results=lambda wildcards, output: str(Path(output.md).parent),  # the inputs are named by their path in it
        commit=workflow_commit(),
        seeds=run_seeds(),
        source=config["source"],
    log:
        P.log("summary"),
    resources:
        **cluster_resources("runtime_table"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/summary.py"
