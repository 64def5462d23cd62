"""Configuration: load, merge presets, validate against the JSON schema, fill defaults.

Snakemake (rules/common.smk) and the ``dabfusion`` command share this, so a config typo
fails the same way everywhere: with the offending key's path and the allowed keys.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path

import yaml

SCHEMA_FILE = "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and what is allowed."""


def check_interpreter_path(executable: str) -> None:
    """Refuse a Python whose path has whitespace, before any job runs.

    Snakemake starts every ``script:`` job as ``{python} {script}`` with the interpreter's path
    unquoted (snakemake/snakemake#2645, open in 9.x), so from such a checkout every job fails
    mid-run with "No such file or directory". One clear line up front instead."""
    if any(c.isspace() for c in executable):
        raise ConfigError(f"the Python running Snakemake is at a path with a space ({executable!r}): Snakemake "
                          "cannot start the pipeline's scripts from there (snakemake/snakemake#2645); clone the "
                          "repository to a path without spaces and run `make setup` (or `make demo`) there")


def load_schema() -> dict:
    text = resources.files("dabfusion.schemas").joinpath(SCHEMA_FILE).read_text()
    return yaml.safe_load(text)


def deep_merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``; nested dicts merge, everything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _fill_defaults(schema: dict, value):
    types = schema.get("type")
    if (types == "object" or (isinstance(types, list) and "object" in types)) and isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = _fill_defaults(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):  # maps of named entries (diffusion.variants)
            for key in set(value) - set(schema.get("properties", {})):
                value[key] = _fill_defaults(extra, value[key])
    return value


_TRUE, _FALSE = {"true", "yes", "on"}, {"false", "no", "off"}


def _coerce(schema: dict, value):
    """Turn strings from ``snakemake --config 'key={a: true}'`` into the types the schema wants.

    Snakemake leaves values nested in such overrides as strings; a boolean or number key
    given that way would otherwise fail validation for a reason the user cannot see.
    """
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {k: _coerce(props.get(k, extra if isinstance(extra, dict) else {}), v) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(schema["items"], v) for v in value]
    if isinstance(value, str):
        types = schema.get("type")
        types = types if isinstance(types, list) else [types]
        low = value.strip().lower()
        if "boolean" in types and low in _TRUE | _FALSE:
            return low in _TRUE
        if "null" in types and low in ("null", "none", "~"):
            return None
        for kind, cast in (("integer", int), ("number", float)):
            if kind in types:
                try:
                    return cast(value)
                except ValueError:
                    pass
    return value


def _describe(error, schema: dict) -> str:
    path = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return (f"unknown config key(s) {', '.join(repr(e) for e in extra)} in {path}; "
                f"allowed keys there: {', '.join(allowed)}")
    return f"config key {path}: {error.message}"


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Return a validated copy of ``config`` with defaults filled in; raise ConfigError."""
    import jsonschema

    schema = schema or load_schema()
    cfg = _fill_defaults(schema, _coerce(schema, copy.deepcopy(dict(config))))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(_describe(e, schema) for e in errors))
    variants = cfg.get("diffusion", {}).get("variants")
    if isinstance(variants, dict):  # a preset drops a variant of config.yaml by setting it to null
        cfg["diffusion"]["variants"] = {k: v for k, v in variants.items() if v is not None}
        if not cfg["diffusion"]["variants"]:
            raise ConfigError("config key diffusion.variants: every variant was set to null; keep at least one")
    return cfg


def load_config(path: str | Path = "config.yaml", presets: list[str | Path] = ()) -> dict:
    """Load a config file, overlay preset files in order, validate and fill defaults."""
    cfg: dict = {}
    for p in [path, *presets]:
        p = Path(p)
        if not p.exists():
            raise ConfigError(f"config file {p} does not exist")
        loaded = yaml.safe_load(p.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: expected a mapping of keys at the top level")
        cfg = deep_merge(cfg, loaded)
    return validate_config(cfg)


def workflow_rule_names(workflow_dir: str | Path) -> set[str]:
    """Every rule defined in ``{workflow_dir}/rules/*.smk``, whichever data source a run uses."""
    import re

    definition = re.compile(r"^\s*rule\s+(\w+)\s*:", re.M)
    return {m for f in Path(workflow_dir, "rules").glob("*.smk") for m in definition.findall(f.read_text())}


def check_cluster_rules(config: dict, workflow_dir: str | Path) -> None:
    """``cluster.rules`` may only name rules of the workflow: a misspelt one would silently get the default size."""
    names = workflow_rule_names(workflow_dir)
    unknown = sorted(set(config["cluster"]["rules"]) - names)
    if unknown:
        raise ConfigError(f"config cluster.rules: no rule named {', '.join(unknown)}; "
                          f"the rules are {', '.join(sorted(names))}")
