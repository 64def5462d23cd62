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
        f"{RESULTS}/logs/fetch_weights_{{file}}.log",
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
        windows=f"{FEATURES}/music_windows_n{{n}}.parquet",
        tracks=f"{FEATURES}/music_tracks_n{{n}}.parquet",
    params:
        music=config["music"],
    log:
        f"{RESULTS}/logs/music_features_n{{n}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/music_features_n{{n}}.tsv"
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
    output:
        motion=f"{FEATURES}/motion.parquet",
    log:
        f"{RESULTS}/logs/motion_features.log",
    resources:
        **cluster_resources("motion_features"),
    conda:
        "../envs/music.yaml"
    script:
        "../scripts/motion_features.py"


rule train_adapters:
    input:
        clips=CLIPS,
        windows=f"{FEATURES}/music_windows_n{BASE_N}.parquet",
        motion=f"{FEATURES}/motion.parquet",
    output:
        style=f"{MODELS}/adapters/style_adapter.safetensors",
        movement=f"{MODELS}/adapters/movement_adapter.safetensors",
        evaluation=report(
            f"{RESULTS}/music/adapter_eval.csv",
            caption="../report/adapter_eval.rst",
            category="Music encoder",
        ),
    params:
        music=config["music"],
    log:
        f"{RESULTS}/logs/train_adapters.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_adapters.tsv"
    resources:
        **cluster_resources("train_adapters"),
    conda:
        "../envs/music.yaml"
    script:
        "../scripts/train_adapters.py"


rule music_embedding:
    input:
        windows=f"{FEATURES}/music_windows_n{{n}}.parquet",
        style=f"{MODELS}/adapters/style_adapter.safetensors",
        movement=f"{MODELS}/adapters/movement_adapter.safetensors",
    output:
        embedding=f"{FEATURES}/music_embedding_n{{n}}.parquet",
    log:
        f"{RESULTS}/logs/music_embedding_n{{n}}.log",
    resources:
        **cluster_resources("music_embedding"),
    conda:
        "../envs/music.yaml"
    script:
        "../scripts/music_embedding.py"
