# Raw data in the AIST++ layout under data_dir: generated (source: synthetic) or fetched
# (source: aistpp). Both end in {data_dir}/manifest.json, which every later rule depends on.


if config["source"] == "synthetic":

    rule synthesize_dataset:
        output:
            manifest=f"{DATA}/manifest.json",
            video_list=f"{DATA}/video_list.txt",
            ignore_list=f"{DATA}/ignore_list.txt",
        params:
            synthetic=config["synthetic"],
        log:
            f"{RESULTS}/logs/synthesize_dataset.log",
        benchmark:
            f"{RESULTS}/benchmarks/synthesize_dataset.tsv"
        threads: CORES
        resources:
            **cluster_resources("synthesize_dataset"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/synthesize_dataset.py"

else:

    onstart:
        # before any job (downloads of weights included), not in dry runs: no accepted
        # Terms of Use, no AIST++ download
        if not Path(f"{DATA}/manifest.json").exists():
            from dabfusion.aistpp import TermsNotAccepted, require_terms

            try:
                require_terms(config["aistpp"])
            except TermsNotAccepted as err:
                sys.exit(f"Error: {err}")

    localrules:
        download_annotations,
        download_video_list,
        download_videos,
        download_music,
        aistpp_manifest,

    rule download_annotations:
        # first: it checks the Terms of Use before anything else is fetched
        priority: 100
        output:
            report=f"{DATA}/.download/annotations.json",
            ignore_list=f"{DATA}/ignore_list.txt",
        params:
            aistpp=config["aistpp"],
        log:
            f"{RESULTS}/logs/download_annotations.log",
        resources:
            **cluster_resources("download_annotations"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"

    rule download_video_list:
        input:
            annotations=f"{DATA}/.download/annotations.json",
        output:
            video_list=f"{DATA}/video_list.txt",
        params:
            aistpp=config["aistpp"],
        log:
            f"{RESULTS}/logs/download_video_list.log",
        resources:
            **cluster_resources("download_video_list"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"

    rule download_videos:
        input:
            video_list=f"{DATA}/video_list.txt",
        output:
            report=f"{DATA}/.download/videos.json",
        params:
            aistpp=config["aistpp"],
        log:
            f"{RESULTS}/logs/download_videos.log",
        benchmark:
            f"{RESULTS}/benchmarks/download_videos.tsv"
        resources:
            **cluster_resources("download_videos"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"

    rule download_music:
        input:
            video_list=f"{DATA}/video_list.txt",
            videos=f"{DATA}/.download/videos.json",
        output:
            report=f"{DATA}/.download/music.json",
        params:
            aistpp=config["aistpp"],
        log:
            f"{RESULTS}/logs/download_music.log",
        resources:
            **cluster_resources("download_music"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"

    rule aistpp_manifest:
        input:
            annotations=f"{DATA}/.download/annotations.json",
            videos=f"{DATA}/.download/videos.json",
            music=f"{DATA}/.download/music.json",
        output:
            manifest=f"{DATA}/manifest.json",
        params:
            aistpp=config["aistpp"],
        log:
            f"{RESULTS}/logs/aistpp_manifest.log",
        resources:
            **cluster_resources("aistpp_manifest"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"
