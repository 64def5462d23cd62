# The music encoder: CLAP (style), Wav2CLIP (movement), librosa (rhythm), the adapters, and
# the music embedding e per clip window.


# downloads run on the submitting host: cluster compute nodes often have no internet
localrules:
    fetch_weights,


rule fetch_weights:
    output:
        f"{WEIGHTS}/{{file}}",
    params:
        source=weight_source,
        download=config["aistpp"]["download"],
    log:
        P.log("fetch_weights_{file}"),
    resources:
        **cluster_resources("fetch_weights"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/fetch_weights.py"


rule music_features:
    input:
        unpack(music_feature_inputs),
    output:
        windows=P.music_windows("{n}"),
        tracks=P.music_tracks("{n}"),
    params:
        music=config["music"],
    log:
        P.log("music_features_n{n}"),
    benchmark:
        P.benchmark("music_features_n{n}")
    threads: JOB_THREADS
    resources:
        **cluster_resources("music_features"),
    conda:
        "../envs/music.yaml"
    script:
        "../scripts/music_features.py"


rule motion_features:
    input:
        clips=CLIPS,
        frames=FRAME_SHARDS,
    output:
        motion=P.motion,
    log:
        P.log("motion_features"),
    resources:
        **cluster_resources("motion_features"),
    conda:
        "../envs/music.yaml"
    script:
        "../scripts/motion_features.py"


rule train_adapters:
    input:
        clips=CLIPS,
        windows=P.music_windows(BASE_N),
        motion=P.motion,
    output:
        style=P.adapter("style"),
        movement=P.adapter("movement"),
        evaluation=report(
            P.result(ADAPTER_EVAL),
            caption="../report/adapter_eval.rst",
            category="Music encoder",
        ),
    params:
        music=config["music"],
    log:
        P.log("train_adapters"),
    benchmark:
        P.benchmark("train_adapters")
    resources:
        **cluster_resources("train_adapters"),
    conda:
        "../envs/music.yaml"
    script:
        "../scripts/train_adapters.py"


rule music_embedding:
    input:
        windows=P.music_windows("{n}"),
        style=P.adapter("style"),
        movement=P.adapter("movement"),
    output:
        embedding=P.music_embedding("{n}"),
    log:
        P.log("music_embedding_n{n}"),
    resources:
        **cluster_resources("music_embedding"),
    conda:
        "../envs/music.yaml"
    script:
        "../scripts/music_embedding.py"
