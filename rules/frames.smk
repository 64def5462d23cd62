# Training-ready data from the raw layout: frames at the training size and fps, the music
# resampled once, and the clip index (one Parquet row per clip of N frames; N = clips.length,
# and each diffusion variant's frames).


rule extract_frames:
    input:
        manifest=raw_manifest(),
        video_list=P.data_list("video_list"),
    output:
        shard=P.frames_shard("{shard}"),
    params:
        extract=config["extract"],
        n_shards=config["extract"]["shards"],
    log:
        P.log("extract_frames_{shard}"),
    benchmark:
        P.benchmark("extract_frames_{shard}")
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
        music=P.music_table,
    params:
        sample_rate=config["extract"]["music_sample_rate"],
    log:
        P.log("prepare_music"),
    resources:
        **cluster_resources("prepare_music"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_music.py"


rule clip_index:
    input:
        manifest=raw_manifest(),
        shards=FRAME_SHARDS,
        music=P.music_table,
        ignore_list=P.data_list("ignore_list"),
    output:
        clips=P.clips("{n}"),
        rejects=report(P.rejects("{n}"), caption="../report/rejects.rst", category="Dataset"),
    params:
        extract=config["extract"],
        clips=lambda wildcards: {**config["clips"], "length": int(wildcards.n)},
    log:
        P.log("clip_index_n{n}"),
    resources:
        **cluster_resources("clip_index"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/clip_index.py"
