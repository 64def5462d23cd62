# Everything `dabfusion generate` needs, in one folder: both stages, the adapters, the settings,
# each camera's empty studio and where its training dancers stand.


rule export_generator:
    input:
        lfae=f"{MODELS}/lfae/model.safetensors",
        unet=f"{MODELS}/diffusion/base/model.safetensors",
        style=f"{MODELS}/adapters/style_adapter.safetensors",
        movement=f"{MODELS}/adapters/movement_adapter.safetensors",
        clips=CLIPS,
    output:
        bundle=directory(f"{RESULTS}/generator"),
    params:
        music=config["music"],
        sampling=config["sampling"],
        fps=config["extract"]["fps"],
        size=config["extract"]["size"],
        n_frames=BASE_N,
    log:
        f"{RESULTS}/logs/export_generator.log",
    conda:
        "../envs/dabfusion.yaml"
    script:
        "../scripts/export_generator.py"
