# Raw data in the AIST++ layout under data_dir: generated (source: synthetic) or fetched
# (source: aistpp). Both end in {data_dir}/manifest.json, which every later rule depends on.


if config["source"] == "synthetic":

    rule synthesize_dataset:
        output:
            manifest=P.manifest,
            video_list=P.data_list("video_list"),
            ignore_list=P.data_list("ignore_list"),
        params:
            synthetic=config["synthetic"],
        log:
            P.log("synthesize_dataset"),
        benchmark:
            P.benchmark("synthesize_dataset")
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
        if not Path(P.manifest).exists():
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
            report=P.download_report("annotations"),
            ignore_list=P.data_list("ignore_list"),
        params:
            aistpp=config["aistpp"],
        log:
            P.log("download_annotations"),
        resources:
            **cluster_resources("download_annotations"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"

    rule download_video_list:
        input:
            annotations=P.download_report("annotations"),
        output:
            video_list=P.data_list("video_list"),
        params:
            aistpp=config["aistpp"],
        log:
            P.log("download_video_list"),
        resources:
            **cluster_resources("download_video_list"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"

    rule download_videos:
        input:
            video_list=P.data_list("video_list"),
        output:
            report=P.download_report("videos"),
        params:
            aistpp=config["aistpp"],
        log:
            P.log("download_videos"),
        benchmark:
            P.benchmark("download_videos")
        resources:
            **cluster_resources("download_videos"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"

    rule download_music:
        input:
            video_list=P.data_list("video_list"),
            videos=P.download_report("videos"),
        output:
            report=P.download_report("music"),
        params:
            aistpp=config["aistpp"],
        log:
            P.log("download_music"),
        resources:
            **cluster_resources("download_music"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"

    rule aistpp_manifest:
        input:
            annotations=P.download_report("annotations"),
            videos=P.download_report("videos"),
            music=P.download_report("music"),
            video_list=P.data_list("video_list"),
        output:
            manifest=P.manifest,
        params:
            aistpp=config["aistpp"],
        log:
            P.log("aistpp_manifest"),
        resources:
            **cluster_resources("aistpp_manifest"),
        conda:
            "../envs/data.yaml"
        script:
            "../scripts/download_aistpp.py"
