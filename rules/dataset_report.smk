# Figures that show what the raw data looks like, read back from the files as written.


rule dataset_report:
    input:
        manifest=raw_manifest(),
        video_list=P.data_list("video_list"),
    output:
        stills=report(
            P.result("dataset/stills.png"),
            caption="../report/stills.rst",
            category="Dataset",
        ),
        beats=report(
            P.result("dataset/beats.png"),
            caption="../report/beats.rst",
            category="Dataset",
        ),
        checks=report(
            P.result("dataset/checks.csv"),
            caption="../report/checks.rst",
            category="Dataset",
        ),
    log:
        P.log("dataset_report"),
    resources:
        **cluster_resources("dataset_report"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/dataset_report.py"
