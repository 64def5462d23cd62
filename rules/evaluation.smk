# Evaluation: baselines on DabFusion's test clips, every metric per video, the paper's Tables
# 1-6, side-by-side videos and the per-rule time table. `snakemake results/table2.csv`
# builds just what Table 2 needs.


rule baseline_videos:
    input:
        unpack(baseline_inputs),
    output:
        manifest=f"{RESULTS}/samples/{{baseline}}/samples.csv",
    log:
        f"{RESULTS}/logs/baseline_videos_{{baseline}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/baseline_videos_{{baseline}}.tsv"
    threads: JOB_THREADS
    resources:
        **cluster_resources("baseline_videos"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/baseline_videos.py"


rule external_samples:
    input:
        reference=f"{RESULTS}/samples/base/samples.csv",
    output:
        manifest=f"{RESULTS}/samples/ext_{{name}}/samples.csv",
    params:
        folder=lambda wildcards: external_folder(wildcards.name),
    log:
        f"{RESULTS}/logs/external_samples_{{name}}.log",
    resources:
        **cluster_resources("external_samples"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/external_samples.py"


rule track_beats:
    input:
        music=f"{PROCESSED}/music.csv",
    output:
        beats=f"{FEATURES}/evaluation_beats.parquet",
    log:
        f"{RESULTS}/logs/track_beats.log",
    resources:
        **cluster_resources("track_beats"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/track_beats.py"


rule score_videos:
    input:
        samples=scored_samples,
        music=f"{PROCESSED}/music.csv",
        beats=f"{FEATURES}/evaluation_beats.parquet",
    output:
        rows=f"{RESULTS}/eval/{{method}}/per_video.csv",
        features=f"{RESULTS}/eval/{{method}}/i3d.npz",
        meta=f"{RESULTS}/eval/{{method}}/per_video.json",
    params:
        evaluation=config["evaluation"],
        music=config["music"],
    log:
        f"{RESULTS}/logs/score_videos_{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score_videos_{{method}}.tsv"
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
        csv=report(f"{RESULTS}/table{{k}}.csv", caption="../report/table.rst", category="Tables",
                   labels={"table": "{k}", "file": "csv"}),
        md=f"{RESULTS}/table{{k}}.md",
        png=report(f"{RESULTS}/table{{k}}.png", caption="../report/table.rst", category="Tables",
                   labels={"table": "{k}", "file": "figure"}),
        meta=f"{RESULTS}/table{{k}}.json",
    params:
        methods=lambda wildcards: table_methods(int(wildcards.k)),
        source=config["source"],
    log:
        f"{RESULTS}/logs/table{{k}}.log",
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
        csv=report(f"{RESULTS}/seeds.csv", caption="../report/seeds.rst", category="Tables"),
        md=f"{RESULTS}/seeds.md",
    params:
        groups=seed_groups(),
        source=config["source"],
    log:
        f"{RESULTS}/logs/seed_table.log",
    resources:
        **cluster_resources("make_table"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/seed_table.py"


rule comparison_videos:
    input:
        samples=f"{RESULTS}/samples/base/samples.csv",
        music=f"{PROCESSED}/music.csv",
    output:
        videos=report(directory(f"{RESULTS}/report/side_by_side"), patterns=["{name}.mp4"],
                      caption="../report/side_by_side.rst", category="Videos"),
    params:
        n=config["evaluation"]["report_videos"],
    log:
        f"{RESULTS}/logs/comparison_videos.log",
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
        png=report(f"{RESULTS}/report/loss_curves.png", caption="../report/loss_curves.rst", category="Training"),
    log:
        f"{RESULTS}/logs/loss_curves.log",
    resources:
        **cluster_resources("loss_curves"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/loss_curves.py"


rule runtime_table:
    input:
        tables=[f"{RESULTS}/table{k}.csv" for k in available_tables()],
        figure6=f"{RESULTS}/figure6/figure6.png",
        extra=optional_results(),  # so that the wall time covers every job of the run
    output:
        csv=report(f"{RESULTS}/runtimes.csv", caption="../report/runtimes.rst", category="Budget"),
    params:
        benchmarks=f"{RESULTS}/benchmarks",
    log:
        f"{RESULTS}/logs/runtime_table.log",
    resources:
        **cluster_resources("runtime_table"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/runtime_table.py"


rule summary:
    input:
        tables=[f"{RESULTS}/table{k}.csv" for k in available_tables()],
        figure6=f"{RESULTS}/figure6/figure6.csv",
        stage1=f"{RESULTS}/lfae/reconstruction.csv",
        table1_meta=f"{RESULTS}/table1.json",
        runtimes=f"{RESULTS}/runtimes.csv",
        extra=optional_results(),
    output:
        md=f"{RESULTS}/summary.md",
    params:
        results=lambda wildcards, output: str(Path(output.md).parent),  # the inputs above are read from it
        commit=workflow_commit(),
        seeds=run_seeds(),
        source=config["source"],
    log:
        f"{RESULTS}/logs/summary.log",
    resources:
        **cluster_resources("runtime_table"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/summary.py"
