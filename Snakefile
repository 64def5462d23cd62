# DabFusion: music-driven dance video generation, from the raw AIST++ layout to the paper's tables.
# Run: snakemake --cores all            (the embedded default, config.yaml)
#      snakemake --cores all --configfile presets/smoke.yaml
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/frames.smk"
include: "rules/music.smk"
include: "rules/lfae.smk"
include: "rules/diffusion.smk"
include: "rules/dataset_report.smk"
include: "rules/evaluation.smk"
include: "rules/generate.smk"


check_cluster_rules(config, workflow.basedir)


rule all:
    input:
        default_targets(),
    default_target: True
