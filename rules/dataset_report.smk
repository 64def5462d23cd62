# Figures that show what the raw data looks like, read back from the files as written.


rule dataset_report:
    input:
        manifest=raw_manifest(),
    output:
        stills=report(
            f"{RESULTS}/dataset/stills.png",
            caption="../report/stills.rst",
            category="Dataset",
        ),
        beats=report(
            f"{RESULTS}/dataset/beats.png",
            caption="../report/beats.rst",
            category="Dataset",
        ),
        checks=report(
            f"{RESULTS}/dataset/checks.csv",
            caption="../report/checks.rst",
            category="Dataset",
        ),
    log:
        f"{RESULTS}/logs/dataset_report.log",
    resources:
        **cluster_resources("dataset_report"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/dataset_report.py"
