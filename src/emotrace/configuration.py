"""The run's configuration outside Snakemake, merged exactly as the Snakefile merges it.

`emotrace check`, `emotrace config` and the Makefile must see the config a `snakemake --configfile A B
--config k=v` run will see: config.yaml when no file is named, else the named files merged in order (later
files override earlier ones key by key, nested sections merged, never config.yaml underneath), then the
`--config` overrides, then the schema's defaults (schemas/config.schema.yaml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import yaml

from emotrace.errors import InputError

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = "config.yaml"


def merge(base: dict, update: dict) -> dict:
    """`update` merged into a copy of `base`: nested dicts merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_file(path: str | Path) -> dict:
    """One YAML config file as a dict (an empty file is an empty config)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise InputError(path, f"cannot read config file ({err.strerror or err})") from err
    except yaml.YAMLError as err:
        raise InputError(path, f"is not valid YAML ({err})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(path, f"must hold a mapping of config keys, not {type(data).__name__}")
    return data


def parse_overrides(entries: Sequence[str]) -> dict:
    """`--config key=value` entries as Snakemake reads them: int, float, bool, else YAML with every nested
    scalar a string (Snakemake's BaseLoader), else the text."""
    from snakemake.cli import parse_config  # the very parser of the snakemake command

    try:
        return parse_config(list(entries))
    except ValueError as err:
        raise InputError("--config", str(err)) from err


def load(configfiles: Sequence[str | Path] = (), overrides: Sequence[str] | Mapping = (), validate: bool = True,
         default: str | Path = DEFAULT_CONFIG) -> dict:
    """The config of `snakemake [--configfile F ...] [--config k=v ...]`, validated, with the schema's defaults.
    `overrides` are `key=value` strings as `--config` takes them, or a dict."""
    files = list(configfiles) or [default]
    config: dict = {}
    for path in files:
        config = merge(config, read_file(path))
    config = merge(config, dict(overrides) if isinstance(overrides, Mapping) else parse_overrides(overrides))
    if validate:
        from snakemake.exceptions import WorkflowError
        from snakemake.utils import validate as schema_validate

        try:
            schema_validate(config, str(SCHEMA), set_default=True)
        except WorkflowError as err:  # keep the headline and the key, not the schema's text Snakemake appends
            lines = [line.strip() for line in str(err).splitlines()]
            what = next((line for line in lines if line.startswith("ValidationError")), lines[0])
            where = next((line for line in lines if line.startswith("On instance")), "")
            raise InputError(" + ".join(map(str, files)), f"config does not match the schema: {what} {where}") from err
    return config


def lookup(config: dict, dotted: str):
    """The value at `a.b.c` of a nested config, or InputError naming the first missing key."""
    value = config
    for depth, key in enumerate(dotted.split(".")):
        if not isinstance(value, dict) or key not in value:
            raise InputError(dotted, f"no key {'.'.join(dotted.split('.')[:depth + 1])!r} in the config")
        value = value[key]
    return value
