"""The TOML configuration file: every command-line option can live there.

Top-level keys are the global options; a table per command holds that
command's options, nested like the commands themselves:

    database = "postgresql+psycopg://127.0.0.1/panelmap"   # --db

    [crawl]
    proxy = "http://127.0.0.1:8080"
    concurrency = 8

    [schedule.add]
    every = "6h"

Keys use the option's name with dashes or underscores (`ca-bundle` or
`ca_bundle`). The command line wins over environment variables, which win over
the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A configuration file that cannot be used; the message is one line."""


def _normalise_keys(table: dict[str, Any]) -> dict[str, Any]:
    return {
        key.replace("-", "_"): _normalise_keys(value) if isinstance(value, dict) else value
        for key, value in table.items()
    }


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a config file into Click's default-map shape."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return _normalise_keys(data)
