"""The WACZ 1.1.1 container: datapackage.json, datapackage-digest.json and the ZIP itself.

py-wacz's validator reads a resource's path as its last two path segments, so
every file sits exactly one folder deep (archive/, indexes/, pages/,
evidence/), beside the two datapackage files at the root. WARCs and the
compressed index are stored uncompressed, as the spec asks, so that a replay
tool can read a record by its offset without inflating the whole ZIP.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from panelmap import __version__

WACZ_VERSION = "1.1.1"
DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
CHUNK = 1 << 20


def created_text(moment: datetime) -> str:
    """The datapackage's `created`, in py-wacz's form (the signature repeats it)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _stored(path: str) -> bool:
    return path.startswith("archive/") or path.endswith(".cdx.gz")


def datapackage_json(staging: Path, paths: Sequence[str], *, created: datetime, title: str, description: str,
                     main_page: tuple[str, datetime] | None, metadata: dict[str, Any]) -> bytes:
    """datapackage.json for the files under `staging`: one resource, with its SHA-256 and size, per path."""
    resources = []
    for path in paths:
        digest, size = sha256_file(staging / path)
        resources.append({"name": Path(path).name.lower(), "path": path, "hash": f"sha256:{digest}", "bytes": size})
    package: dict[str, Any] = {"profile": "data-package", "resources": resources, "title": title,
                               "description": description}
    if main_page:
        package["mainPageURL"] = main_page[0]
        package["mainPageDate"] = created_text(main_page[1])
    package.update({"created": created_text(created), "wacz_version": WACZ_VERSION,
                    "software": f"panelmap {__version__}", "panelmap": metadata})
    return json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")


def digest_json(datapackage: bytes, signed_data: dict[str, Any], timestamps: list[dict[str, Any]]) -> bytes:
    """datapackage-digest.json: the hash of datapackage.json, its signature, and the timestamps over that."""
    document = {"path": DATAPACKAGE, "hash": "sha256:" + hashlib.sha256(datapackage).hexdigest(),
                "signedData": signed_data, "timestamps": timestamps}
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")


def write_wacz(out: Path, staging: Path, paths: Sequence[str], datapackage: bytes, digest: bytes,
               when: datetime) -> None:
    """Write the ZIP to a temporary name beside `out`, then move it into place: never a half pack."""
    date_time = when.astimezone(timezone.utc).timetuple()[:6]
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
        for path in paths:
            info = zipfile.ZipInfo(path, date_time)
            info.compress_type = zipfile.ZIP_STORED if _stored(path) else zipfile.ZIP_DEFLATED
            info.file_size = (staging / path).stat().st_size  # lets zipfile choose ZIP64 only where needed
            with (staging / path).open("rb") as source, archive.open(info, "w") as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
        for name, data in ((DATAPACKAGE, datapackage), (DIGEST, digest)):
            info = zipfile.ZipInfo(name, date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    partial.replace(out)
