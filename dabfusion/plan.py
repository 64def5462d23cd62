"""The run's plan: where every artefact lives, which methods a run has, what each table is made of.

One place for these facts, read by the rules (``rules/common.smk``), ``dabfusion.tables``,
``dabfusion.summary`` and the scripts. Torch- and pandas-free, so the DAG builds in a blink.

    paths = Paths(data="resources/synthetic", results="results")
    paths.clips(16)                 'resources/synthetic/processed/clips_n16.parquet'
    paths.samples("{variant}")      'results/samples/{variant}/samples.csv'   (a rule's template)
    TABLES[6].methods               ('nobeat', 'globalbeat', 'base', 'framebeat')

A path function given a wildcard such as ``"{variant}"`` returns the Snakemake template.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the baselines scored beside DabFusion (``dabfusion.baselines`` makes their videos)
BASELINES = ("static", "retrieval")
#: the ground truth is scored like a method: the test clips themselves
GROUND_TRUTH = "gt"
#: the diffusion variant the ground truth, the baselines and Figure 6 go with
BASE = "base"


#: the files of a flow cache (``training.flow_cache``): read together, declared together
FLOW_CACHE_FILES = ("grids.npy", "occlusion.npy", "z0.npy", "index.parquet", "meta.json")


@dataclass(frozen=True)
class Paths:
    """Artefact paths of one run: ``data`` (the dataset and its caches), ``results`` (models, scores, tables)."""

    data: str
    results: str

    # --- the dataset and its caches (data_dir) ---
    @property
    def processed(self) -> str:
        return f"{self.data}/processed"

    @property
    def features(self) -> str:
        return f"{self.data}/features"

    @property
    def manifest(self) -> str:
        """The file whose presence means the raw AIST++ layout under data_dir is complete."""
        return f"{self.data}/manifest.json"

    def download_report(self, part: str) -> str:
        return f"{self.data}/.download/{part}.json"

    def data_list(self, name: str) -> str:
        return f"{self.data}/{name}.txt"

    def frames_shard(self, shard) -> str:
        return f"{self.processed}/shards/frames_{shard}.csv"

    @property
    def music_table(self) -> str:
        return f"{self.processed}/music.csv"

    def clips(self, n) -> str:
        return f"{self.processed}/clips_n{n}.parquet"

    def rejects(self, n) -> str:
        return f"{self.processed}/rejects_n{n}.csv"

    def music_windows(self, n) -> str:
        return f"{self.features}/music_windows_n{n}.parquet"

    def music_tracks(self, n) -> str:
        return f"{self.features}/music_tracks_n{n}.parquet"

    def music_embedding(self, n) -> str:
        return f"{self.features}/music_embedding_n{n}.parquet"

    @property
    def motion(self) -> str:
        return f"{self.features}/motion.parquet"

    @property
    def evaluation_beats(self) -> str:
        return f"{self.features}/evaluation_beats.parquet"

    def flows(self, n, part: str = "meta.json") -> str:
        """Stage 2's cached targets at clip length n: one of ``FLOW_CACHE_FILES``."""
        return f"{self.features}/flows_n{n}/{part}"

    def flow_files(self, n) -> dict[str, str]:
        """The whole flow cache at clip length n, by file stem (``grids``, ..., ``meta``)."""
        return {part.split(".")[0]: self.flows(n, part) for part in FLOW_CACHE_FILES}

    # --- models (results_dir/models) ---
    @property
    def models(self) -> str:
        return f"{self.results}/models"

    def adapter(self, kind: str) -> str:
        return f"{self.models}/adapters/{kind}_adapter.safetensors"

    @property
    def lfae(self) -> str:
        return f"{self.models}/lfae/model.safetensors"

    @property
    def lfae_loss(self) -> str:
        return f"{self.models}/lfae/loss.csv"

    def diffusion(self, variant) -> str:
        return f"{self.models}/diffusion/{variant}/model.safetensors"

    def diffusion_loss(self, variant) -> str:
        return f"{self.models}/diffusion/{variant}/loss.csv"

    def guidance(self, variant) -> str:
        """The guidance scale calibrated for a variant's model (``sampling.calibration``)."""
        return f"{self.models}/diffusion/{variant}/guidance.json"

    def snapshot(self, variant, epoch: int) -> str:
        return f"{self.models}/diffusion/{variant}/snapshots/epoch{epoch:04d}.safetensors"

    # --- videos, scores, tables, reports (results_dir) ---
    def samples(self, method) -> str:
        """The manifest of a method's videos; the ground truth is scored on the base variant's clips."""
        return f"{self.results}/samples/{BASE if method == GROUND_TRUTH else method}/samples.csv"

    def scores(self, method, part: str = "per_video.csv") -> str:
        """A method's scores: per_video.csv, its I3D features i3d.npz and its metadata per_video.json."""
        return f"{self.results}/eval/{method}/{part}"

    def score_inputs(self, methods) -> dict[str, str]:
        """A job's inputs for the scores of ``methods``: per_video.csv under the method's name, its I3D
        features (``features_{method}``) and metadata (``meta_{method}``), which are read beside it."""
        files = {}
        for m in methods:
            files.update({m: self.scores(m), f"features_{m}": self.scores(m, "i3d.npz"),
                          f"meta_{m}": self.scores(m, "per_video.json")})
        return files

    def table(self, k, ext: str = "csv") -> str:
        return f"{self.results}/{table_name(k, ext)}"

    def result(self, name: str) -> str:
        """Any other file of the results folder, by its name there (``runtimes.csv``, ``lfae/reconstruction.csv``)."""
        return f"{self.results}/{name}"

    def log(self, job: str) -> str:
        return f"{self.results}/logs/{job}.log"

    def benchmark(self, job: str) -> str:
        return f"{self.results}/benchmarks/{job}.tsv"


def table_name(k, ext: str = "csv") -> str:
    """Table k's file in the results folder."""
    return f"table{k}.{ext}"


#: results-relative names of the run's reports, for ``Paths.result``
SEEDS_TABLE = "seeds.csv"
RUNTIMES = "runtimes.csv"
SUMMARY = "summary.md"
LEARNING_CURVE = "report/learning_curve.csv"
STAGE1_CEILING = "report/stage1_ceiling.csv"
LOSS_CURVES = "report/loss_curves.png"
SIDE_BY_SIDE = "report/side_by_side"
STAGE1_TABLE = "lfae/reconstruction.csv"
STAGE1_GRID = "lfae/reconstruction.png"
ADAPTER_EVAL = "music/adapter_eval.csv"
FIGURE6_SHEET = "figure6/figure6.png"
FIGURE6_TABLE = "figure6/figure6.csv"
FIGURE6_REPEAT = "figure6/seeds/{variant}"  # Figure 6 again with a repeat of the base setting (another seed)
GENERATOR = "generator"


@dataclass(frozen=True)
class Methods:
    """The methods of one run: the ground truth, the baselines, the diffusion variants, external videos."""

    variants: tuple[str, ...]
    external: tuple[str, ...] = ()

    @classmethod
    def of(cls, config: dict) -> "Methods":
        return cls(tuple(config["diffusion"]["variants"]), tuple(config["evaluation"]["external"]))

    @property
    def external_methods(self) -> tuple[str, ...]:
        return tuple(f"ext_{n}" for n in self.external)

    @property
    def all(self) -> tuple[str, ...]:
        return (GROUND_TRUTH, *BASELINES, *self.variants, *self.external_methods)

    def for_table(self, spec: "TableSpec") -> list[str]:
        """The methods of a table that this run has (an ablation needs its variant; Table 1 takes external videos)."""
        wanted = [*spec.methods, *(self.external_methods if spec.external else ())]
        return [m for m in wanted if m in self.all]

    def tables(self) -> list[int]:
        """Tables 1-4 always; an ablation table when at least two of its variants are configured."""
        return [k for k, spec in TABLES.items() if not spec.ablation or len(self.for_table(spec)) >= 2]


#: how a table row names a method (``model`` column)
LABELS = {"gt": "Ground Truth", "base": "DabFusion", "static": "Static (first frame)",
          "retrieval": "Retrieval (nearest music's motion)", "long": "DabFusion", "nobeat": "DabFusion",
          "framebeat": "DabFusion + frame-aligned rhythm",
          "globalbeat": "DabFusion, beats in e only (the paper's conditioning)"}
QUALITY_COLS = ("fvd", "lpips", "psnr", "ssim")
#: mm_align_shifted is 2D-MM Align's chance control (the same videos against the beats shifted by
#: half a period, ``metrics.alignment.shifted_half_period``): reported beside every 2D-MM Align;
#: motion is the dancer's mean speed (px/s, ``metrics.alignment.video_motion_envelope``): the
#: ground truth's is the target, and a model that stands still scores about 0
ALIGN_COLS = ("cs", "mm_align", "mm_align_shifted", "av_align", "motion")


@dataclass(frozen=True)
class TableSpec:
    """One of the paper's tables.

    Rows: per ``group`` value (a per_video.csv column; ``None``: one group), then per method.
    ``columns`` are the label columns in order (``model``, ``method``, ``camera``,
    ``dance_style``, ``frames``, ``beat``), then come ``metrics`` and ``videos``; ``total``
    adds a row over all groups with that label; ``paired_against`` adds each method's 2D-MM
    Align minus that method's on the same clips, with a bootstrap 95 % interval.
    """

    number: int
    title: str
    methods: tuple[str, ...]
    columns: tuple[str, ...]
    metrics: tuple[str, ...]
    group: str | None = None
    total: str | None = None
    paired_against: str | None = None
    external: bool = False  # other systems' videos join this table
    ablation: bool = False  # built only when its variants are configured

    def inputs(self, paths: Paths, methods: list[str]) -> dict[str, str]:
        """Every file the table is built from: each method's scores and manifest (seeds, sampler)."""
        return {**paths.score_inputs(methods), **{f"samples_{m}": paths.samples(m) for m in methods}}


TABLES = {spec.number: spec for spec in [
    TableSpec(1, "DabFusion against baselines", ("base", "static", "retrieval"), ("model", "method"),
              QUALITY_COLS, external=True),
    TableSpec(2, "Video quality per camera", ("base",), ("model", "camera"), QUALITY_COLS, group="camera",
              total="all"),
    TableSpec(3, "Alignment", ("gt", "base", "static", "retrieval"), ("model", "method"), ALIGN_COLS),
    TableSpec(4, "Alignment per dance style", ("gt", "base"), ("dance_style", "model", "method"), ALIGN_COLS,
              group="genre"),
    TableSpec(5, "Video length", ("base", "long"), ("frames", "method"), ALIGN_COLS + ("fvd",), ablation=True),
    TableSpec(6, "Beat information", ("nobeat", "globalbeat", "base", "framebeat"), ("model", "beat", "method"),
              ALIGN_COLS + ("fvd",), paired_against="nobeat", ablation=True),
]}
