"""Exporting an evidence pack: the one call that assembles, signs, stamps and records a WACZ.

    result = export_pack(Database.open(url), ["justanotherpanel.com"], case_id="2024-017",
                         operator="A. Analyst", out=Path("jap.wacz"), key=Path("org.pem"),
                         tsa_urls=["https://tsa.example/tsr"])

Order matters: the files are assembled first; datapackage.json lists their
hashes; its hash is signed; the signature is timestamped; only then is the ZIP
written, and the database records the pack and its custody log last, so a failed
export leaves neither a half-written pack nor a row claiming one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmap import __version__
from panelmap.output import plain
from panelmap.storage import Database, SecretRedactor, normalise_domain
from panelmap.storage.models import AddressObservation, Capture, EvidencePack, IpAddress, Network, Site

from . import custody
from .archive import PackedArchive, WithheldRecord, captures_jsonl, copy_records, pages_jsonl, write_index
from .errors import EvidenceError
from .facts import SiteFacts, gather
from .network_svg import network_svg
from .pdf import render_pdf
from .provenance import build_provenance, crawl_runs
from .report import render_report
from .signing import key_fingerprint, load_private_key, sign_hash
from .timestamps import StoredTimestamp, request_timestamp
from .wacz import created_text, datapackage_json, digest_json, sha256_file, write_wacz

SIGNATURE_FORMAT_VERSION = "0.1.0"  # of the WACZ Signing and Verification recommendation
CATALOGUE_COLUMNS = ["site", "service_id", "name", "category", "platform", "metric", "rate_text", "currency",
                     "rate_usd", "min", "max", "max_unlimited", "geo", "source", "observed_at"]


@dataclass(frozen=True)
class _Sealed:
    """What sealing the pack produced, for the database's records."""

    signed: dict[str, str]
    timestamps: list[StoredTimestamp]
    datapackage_hash: str
    fingerprint: str
    created_entry: custody.CustodyEntry


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    pack_id: int
    report_html: Path
    report_pdf: Path
    artefacts: int
    withheld: list[WithheldRecord]
    datapackage_hash: str
    key_fingerprint: str
    timestamps: list[StoredTimestamp]


def beside(pack: Path, suffix: str) -> Path:
    """PACK.wacz -> PACK.report.html: the copies of the report kept next to the pack."""
    return pack.with_name(pack.name.removesuffix(".wacz") + suffix)


def _sites(session: Session, domains: Sequence[str]) -> list[Site]:
    found = []
    for domain in dict.fromkeys(normalise_domain(domain) for domain in domains):
        site = session.scalar(select(Site).filter_by(domain=domain))
        if site is None:
            raise EvidenceError(f"no site {domain} in the database: crawl it first, or check the spelling")
        found.append(site)
    return found


def _captures(session: Session, site_ids: list[int], since: datetime | None) -> list[Capture]:
    """The sites' captures, and the registry records of the networks hosting them."""
    own = select(Capture.id).where(Capture.site_id.in_(site_ids))
    rdap = (select(Network.rdap_capture_id).join(IpAddress, IpAddress.network_id == Network.id)
            .join(AddressObservation, AddressObservation.ip_id == IpAddress.id)
            .where(AddressObservation.site_id.in_(site_ids), Network.rdap_capture_id.is_not(None)))
    query = select(Capture).where(Capture.id.in_(own.union(rdap)))
    if since:
        query = query.where(Capture.fetched_at >= since)
    return list(session.scalars(query.order_by(Capture.fetched_at, Capture.id)))


def _catalogue_csv(facts: Sequence[SiteFacts]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CATALOGUE_COLUMNS)
    for site in facts:
        for row in site.catalogue:
            values = plain(row)
            writer.writerow([", ".join(values[name]) if name == "geo" else values.get(name)
                             for name in CATALOGUE_COLUMNS])
    return buffer.getvalue().encode("utf-8")


def _write(staging: Path, path: str, data: bytes) -> str:
    target = staging / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return path


def export_pack(database: Database, sites: Sequence[str], *, case_id: str, operator: str, out: Path,
                key: ec.EllipticCurvePrivateKey | Path, since: datetime | None = None,
                tsa_urls: Sequence[str] = (), tsa_certificates: Sequence[x509.Certificate] = (),
                secrets: Iterable[str] = ()) -> ExportResult:
    """Write the evidence pack for `sites` (their captures since `since`) to `out`, and record it.

    `secrets` are values that must appear nowhere in the pack (the crawl's API
    keys and cookies): generated files are redacted, and a captured record that
    holds one is withheld and listed rather than altered.
    """
    if not case_id.strip() or not operator.strip():
        raise EvidenceError("a pack needs a case id and an operator")
    private_key = key if isinstance(key, ec.EllipticCurvePrivateKey) else load_private_key(key)
    out = Path(out).resolve()
    if not out.parent.is_dir():
        raise EvidenceError(f"cannot write {out}: folder {out.parent} does not exist")
    created = datetime.now(timezone.utc).replace(microsecond=0)
    since = since.astimezone(timezone.utc) if since else None
    redactor = SecretRedactor(secrets)
    with database.session() as session:
        site_rows = _sites(session, sites)
        domains = [site.domain for site in site_rows]
        captures = _captures(session, [site.id for site in site_rows], since)
        if not captures:
            raise EvidenceError(f"no captures of {', '.join(domains)}" + (f" since {since:%Y-%m-%d}" if since else "")
                                + ": nothing to put in a pack")
        with tempfile.TemporaryDirectory(prefix=".panelmap-pack-", dir=out.parent) as temporary:
            staging = Path(temporary)
            packed = copy_records(captures, staging / "archive", redactor)
            if not packed.records:
                raise EvidenceError(f"every capture was withheld (first reason: {packed.withheld[0].reason})")
            facts = gather(session, site_rows, since)
            runs = crawl_runs(session, {record.run_id for record in packed.records}, redactor)
            sealed = _assemble(staging, packed, facts, runs, domains=domains, case_id=case_id, operator=operator,
                               since=since, created=created, out=out, private_key=private_key,
                               tsa_urls=tsa_urls, tsa_certificates=tsa_certificates, redactor=redactor)
        pack_sha256 = sha256_file(out)[0]
        pack = EvidencePack(case_id=case_id, operator=operator, sites=domains, path=str(out), sha256=pack_sha256,
                            signature={"signedData": sealed.signed, "timestamps": [
                                {"tsa": stamp.tsa, "genTime": created_text(stamp.gen_time)}
                                for stamp in sealed.timestamps]},
                            created_at=created)
        session.add(pack)
        session.flush()
        exported = custody.next_entry(sealed.created_entry, "exported", operator, {
            "path": str(out), "sha256": pack_sha256, "datapackage": sealed.datapackage_hash,
            "public_key": sealed.fingerprint, "artefacts": len(packed.records),
            "timestamps": [{"tsa": stamp.tsa, "time": created_text(stamp.gen_time)} for stamp in sealed.timestamps],
        })
        custody.store_entries(session, pack.id, [sealed.created_entry, exported])
        pack_id = pack.id
    return ExportResult(out, pack_sha256, pack_id, beside(out, ".report.html"), beside(out, ".report.pdf"),
                        len(packed.records), packed.withheld, sealed.datapackage_hash, sealed.fingerprint,
                        sealed.timestamps)


def _assemble(staging: Path, packed: PackedArchive, facts: list[SiteFacts], runs: list[dict[str, Any]], *,
              domains: list[str], case_id: str, operator: str, since: datetime | None, created: datetime, out: Path,
              private_key: ec.EllipticCurvePrivateKey, tsa_urls: Sequence[str],
              tsa_certificates: Sequence[x509.Certificate], redactor: SecretRedactor) -> _Sealed:
    """Everything inside the pack, then the ZIP and the report's copies beside it."""
    title = f"Evidence pack, case {case_id}: {', '.join(domains)}"
    fingerprint = key_fingerprint(private_key.public_key())
    paths = [f"archive/{path.name}" for path in packed.files]
    paths += [f"indexes/{path.name}" for path in write_index(packed.files, staging / "indexes")]
    pages = pages_jsonl(packed.records, title)
    paths.append(_write(staging, "pages/pages.jsonl", pages))
    paths.append(_write(staging, "evidence/captures.jsonl", captures_jsonl(packed.records, packed.withheld)))
    paths.append(_write(staging, "evidence/catalogue.csv", redactor.redact(_catalogue_csv(facts))[0]))
    provenance = build_provenance(case_id=case_id, operator=operator, sites=domains, since=since, created=created,
                                  runs=runs, redactor=redactor)
    paths.append(_write(staging, "evidence/provenance.json",
                        json.dumps(provenance, indent=2, ensure_ascii=False).encode("utf-8")))
    created_entry = custody.next_entry(None, "created", operator, {
        "case_id": case_id, "sites": domains, "since": created_text(since) if since else None,
        "artefacts": len(packed.records), "withheld": len(packed.withheld), "software": f"panelmap {__version__}",
    }, at=created)
    paths.append(_write(staging, "evidence/custody.jsonl", custody.to_jsonl([created_entry])))
    artefacts = sorted(packed.records, key=lambda record: (record.fetched_at, record.capture_id))
    html = redactor.redact_text(render_report({
        "case_id": case_id, "operator": operator, "created": created, "since": since, "sites": facts,
        "svgs": {site.domain: network_svg(site.domain, site.links) for site in facts},
        "artefacts": artefacts, "artefact_numbers": {record.capture_id: index
                                                     for index, record in enumerate(artefacts, start=1)},
        "withheld": packed.withheld, "provenance": provenance, "custody": [created_entry],
        "key_fingerprint": fingerprint, "tsa_urls": list(tsa_urls),
        "tsa_certificate_names": [certificate.subject.rfc4514_string() for certificate in tsa_certificates],
    }))
    paths.append(_write(staging, "evidence/report.html", html.encode("utf-8")))
    render_pdf(html, staging / "evidence" / "report.pdf")
    paths.append("evidence/report.pdf")

    main_page = json.loads(pages.splitlines()[1]) if len(pages.splitlines()) > 1 else None
    datapackage = datapackage_json(
        staging, paths, created=created, title=title,
        description=f"Captures of {', '.join(domains)} for case {case_id}, prepared by {operator}.",
        main_page=(main_page["url"], datetime.strptime(main_page["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
                   .replace(tzinfo=timezone.utc)) if main_page else None,
        metadata={"case_id": case_id, "operator": operator, "sites": domains, "public_key": fingerprint},
    )
    datapackage_hash = "sha256:" + hashlib.sha256(datapackage).hexdigest()
    signed = sign_hash(private_key, datapackage_hash, created=created_text(created),
                       software=f"panelmap {__version__}", version=SIGNATURE_FORMAT_VERSION)
    timestamps = [request_timestamp(url, signed["signature"].encode("ascii"), extra_certificates=tsa_certificates)
                  for url in tsa_urls]
    digest = digest_json(datapackage, signed, [stamp.as_json() for stamp in timestamps])
    write_wacz(out, staging, paths, datapackage, digest, created)
    shutil.copyfile(staging / "evidence" / "report.html", beside(out, ".report.html"))
    shutil.copyfile(staging / "evidence" / "report.pdf", beside(out, ".report.pdf"))
    return _Sealed(signed, timestamps, datapackage_hash, fingerprint, created_entry)

