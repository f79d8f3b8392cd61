"""The sandbox's secrets as an investigator's secrets file (what `panelmap crawl --secrets` reads)."""

from __future__ import annotations

import json
from pathlib import Path

from panelmap.sandbox.world import World


def write_secrets_file(world: World, path: Path | str) -> Path:
    """Write the world's API keys and session cookies as TOML, readable by the owner only."""
    path = Path(path)
    lines = []
    for domain, values in sorted(world.secrets.items()):
        lines.append(f"[{json.dumps(domain)}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in sorted(values.items()))
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)
    return path
