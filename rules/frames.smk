# Training-ready data from the raw layout: frames at the training size and fps, the music
# resampled once, and the clip index (one Parquet row per clip of N frames; N = clips.length,
# and each diffusion variant's frames).


rule extract_frames:
    input:
        manifest=raw_manifest(),
    output:
        shard=f"{PROCESSED}/shards/frames_{{shard}}.csv",
    params:
        extract=config["extract"],
        n_shards=config["extract"]["shards"],
    log:
        f"{RESULTS}/logs/extract_frames_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/extract_frames_{{shard}}.tsv"
    resources:
        **cluster_resources("extract_frames"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/extract_frames.py"


rule prepare_music:
    input:
        manifest=raw_manifest(),
    output:
        music=f"{PROCESSED}/music.csv",
    params:
        sample_rate=config["extract"]["music_sample_rate"],
    log:
        f"{RESULTS}/logs/prepare_music.log",
    resources:
        **cluster_resources("prepare_music"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_music.py"


rule clip_index:
    input:
        manifest=raw_manifest(),
        shards=expand(f"{PROCESSED}/shards/frames_{{shard}}.csv", shard=range(config["extract"]["shards"])),
        music=f"{PROCESSED}/music.csv",
    output:
        clips=f"{PROCESSED}/clips_n{{n}}.parquet",
        rejects=report(f"{PROCESSED}/rejects_n{{n}}.csv", caption="../report/rejects.rst", category="Dataset"),
    params:
        extract=config["extract"],
        clips=lambda wildcards: {**config["clips"], "length": int(wildcards.n)},
    log:
        f"{RESULTS}/logs/clip_index_n{{n}}.log",
    resources:
        **cluster_resources("clip_index"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/clip_index.py"
