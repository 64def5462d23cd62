# Raw data: the synthetic generator (source: synthetic). The AIST++ download rules
# (source: aistpp) write the same layout.


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
        threads: workflow.cores
        conda:
            "../envs/dabfusion.yaml"
        script:
            "../scripts/synthesize_dataset.py"
