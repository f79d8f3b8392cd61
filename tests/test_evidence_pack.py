"""An evidence pack made from the shared sandbox crawl: valid WACZ, verifiable, tamper-evident, secret-free.

The crawl itself stores responses, rendered DOMs and screenshots; the DNS, RDAP
and TLS records, networks, payments and links an enrichment and the linker would
add are written here through the storage layer, from the world's ground truth,
into a copy of the crawl's database, so every kind of artefact is in the pack.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import sqlite3
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import dns.message
import dns.rrset
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image, ImageStat
from sqlalchemy import select

from panelmap.cli import cli
from panelmap.evidence import custody
from panelmap.evidence.tsa import LocalTimestampAuthority
from panelmap.evidence.verify import verify_pack
from panelmap.storage import Database, WarcFileWriter, record_capture, upsert_site
from panelmap.storage.models import (
    AddressObservation,
    Capture,
    Certificate,
    CertificateObservation,
    CrawlRun,
    CustodyEvent,
    DnsObservation,
    EvidencePack,
    IpAddress,
    Link,
    Network,
    PaymentEndpoint,
    PriceObservation,
    Service,
)

UPSTREAM = "justanotherpanel.com"
RENDERED_RESELLER = "cheapworld-panel.store"  # an XHR site: its pack has DOMs and screenshots too
LEAKY_RDAP_URI = "https://rdap.example/ip/leaky"
OLD_GENERATION = "203.0.113.77"


def _secrets(world) -> list[str]:
    values = [value for site in world.secrets.values() for value in site.values()]
    values += [part.split("=", 1)[1] for site in world.secrets.values() if "cookie" in site
               for part in site["cookie"].split("; ")]
    return values


def _certificate_chain_pem(names: list[str]) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(7).not_valid_before(now - timedelta(days=10))
                   .not_valid_after(now + timedelta(days=80))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM)


def _price_observation_ids(session, site_id: int) -> list[int]:
    query = (select(PriceObservation.id).join(Service, Service.id == PriceObservation.service_id)
             .where(Service.site_id == site_id, PriceObservation.capture_id.is_not(None))
             .order_by(PriceObservation.id).limit(3))
    return list(session.scalars(query))


def _enrich(database: Database, ground_truth: dict, warc_dir: Path, leaked_secret: str) -> None:
    """What the enrichers and the linker store, for the upstream: DNS, hosting, TLS, payments, links."""
    truth = ground_truth["sites"][UPSTREAM]
    now = datetime.now(timezone.utc)
    with database.session() as session, WarcFileWriter(warc_dir, "panelmap-enrich") as warc:
        run = CrawlRun(job_name="enrich", config={"resolver": "127.0.0.1:5353", "api_key": "not-a-real-key"},
                       resolver="127.0.0.1:5353", software_version="0.1.0")
        session.add(run)
        session.flush()
        site_id = upsert_site(session, UPSTREAM)
        query = dns.message.make_query(UPSTREAM, "A")
        answer = dns.message.make_response(query)
        answer.answer.append(dns.rrset.from_text(f"{UPSTREAM}.", 300, "IN", "A", *truth["hosting"]["ipv4"]))
        written = warc.write_resource(f"dns:{UPSTREAM}?type=A", "application/dns-message", answer.to_wire(), at=now)
        dns_capture = record_capture(session, run.id, "dns", f"dns:{UPSTREAM}?type=A", written, site_id=site_id,
                                     content_type="application/dns-message", fetched_at=now)
        observation = DnsObservation(run_id=run.id, site_id=site_id, capture_id=dns_capture, qname=UPSTREAM,
                                     rtype="A", status="NOERROR", answers=truth["hosting"]["ipv4"], ttl=300)
        ns = DnsObservation(run_id=run.id, site_id=site_id, capture_id=dns_capture, qname=UPSTREAM, rtype="NS",
                            status="NOERROR", answers=truth["hosting"]["ns"], ttl=300)
        session.add_all([observation, ns])
        block = truth["hosting"]["networks"][0]
        rdap = json.dumps({"handle": block["cidr"], "name": "DATAFORT-NL", "country": block["country"],
                           "entities": [{"roles": ["abuse"], "vcardArray": ["vcard", [["email", {}, "text",
                                                                                         "abuse@datafort.example"]]]}]})
        rdap_url = f"https://rdap.db.ripe.net/ip/{truth['hosting']['ipv4'][0]}"
        written = warc.write_resource(rdap_url, "application/rdap+json", rdap.encode(), at=now)
        rdap_capture = record_capture(session, run.id, "rdap", rdap_url, written, site_id=site_id,
                                      content_type="application/rdap+json", fetched_at=now)
        # An RDAP answer that (by accident) echoes the investigator's key: it must be withheld, not edited.
        written = warc.write_resource(LEAKY_RDAP_URI, "application/rdap+json",
                                      json.dumps({"remarks": [leaked_secret]}).encode(), at=now)
        record_capture(session, run.id, "rdap", LEAKY_RDAP_URI, written, site_id=site_id, fetched_at=now)
        # The crawl's own enrichment may have stored this network and address already.
        network = session.scalar(select(Network).filter_by(cidr=block["cidr"])) or Network(cidr=block["cidr"])
        network.asn, network.asn_description, network.asn_country = block["asn"], block["asn_name"], "AE"
        network.rir, network.name, network.country = block["rir"], "DATAFORT-NL", block["country"]
        network.abuse_emails, network.rdap_capture_id = ["abuse@datafort.example"], rdap_capture
        session.add(network)
        session.flush()
        address = truth["hosting"]["ipv4"][0]
        ip = session.scalar(select(IpAddress).filter_by(address=address)) or IpAddress(address=address, version=4)
        ip.network_id = network.id
        session.add(ip)
        session.flush()
        session.add(AddressObservation(run_id=run.id, site_id=site_id, ip_id=ip.id, hostname=UPSTREAM,
                                       dns_observation_id=observation.id))
        pem = _certificate_chain_pem(truth["tls"]["names"])
        written = warc.write_resource(f"tls://{UPSTREAM}:443", "application/x-pem-file", pem, at=now)
        tls_capture = record_capture(session, run.id, "tls", f"tls://{UPSTREAM}:443", written, site_id=site_id,
                                     content_type="application/x-pem-file", fetched_at=now)
        parsed = x509.load_pem_x509_certificate(pem)
        certificate = Certificate(sha256=parsed.fingerprint(hashes.SHA256()).hex(),
                                  sha1=parsed.fingerprint(hashes.SHA1()).hex(), serial="7",
                                  subject=parsed.subject.rfc4514_string(), issuer=parsed.issuer.rfc4514_string(),
                                  sans=truth["tls"]["names"], not_before=parsed.not_valid_before_utc,
                                  not_after=parsed.not_valid_after_utc)
        session.add(certificate)
        session.flush()
        session.add(CertificateObservation(run_id=run.id, site_id=site_id, certificate_id=certificate.id,
                                           capture_id=tls_capture, host=UPSTREAM, valid=True))
        addfunds = session.scalar(select(Capture.id).where(Capture.site_id == site_id,
                                                           Capture.url.like("%/addfunds%")))
        for payment in truth["payments"]:
            session.add(PaymentEndpoint(run_id=run.id, site_id=site_id, capture_id=addfunds,
                                        processor=payment["processor"], identifier=payment["identifier"],
                                        host=payment["host"], crypto_network=payment.get("network")))
        # One generation of links, in the shape the network linker stores them.
        upstream_prices = _price_observation_ids(session, site_id)
        for domain, site in ground_truth["sites"].items():
            for upstream in site.get("upstreams", []):
                if upstream["domain"] == UPSTREAM and site["served"]:
                    source = upsert_site(session, domain)
                    reseller_prices = _price_observation_ids(session, source)
                    pairs = [list(pair) for pair in zip(upstream_prices, reseller_prices, strict=False)]
                    session.add(Link(kind="resells", source_site_id=source, target_site_id=site_id, confidence=0.97,
                                     markup=Decimal(upstream["markup"]), matched_services=upstream["services"],
                                     computed_at=now, evidence={
                                         "tiers": [{"markup": upstream["markup"]}], "matched": upstream["services"],
                                         "agreeing": upstream["services"], "coverage": 1.0, "observations": pairs,
                                         "signals": {}}))
        session.add(Link(kind="shares_ns", source_site_id=site_id,
                         target_site_id=upsert_site(session, "dripfeedpanel.com"), confidence=0.4,
                         value="dns1.cloudns.net", pivot_count=40, weak=True, computed_at=now,
                         evidence={"observations": {UPSTREAM: [ns.id]}}))
        session.add(Link(kind="shares_ip", source_site_id=site_id, target_site_id=upsert_site(session, "fivebbc.com"),
                         confidence=1.0, value=OLD_GENERATION, computed_at=now - timedelta(days=1),
                         evidence={}))  # an older generation of links: superseded, not reported


@pytest.fixture(scope="module")
def pack(sandbox_crawl, ground_truth, world, secrets_file, tmp_path_factory) -> dict:
    """One export through the CLI, stamped by two loopback TSAs: {"path", "db", "public_key", ...}."""
    folder = tmp_path_factory.mktemp("evidence")
    source = sqlite3.connect(sandbox_crawl["db"].removeprefix("sqlite:///"))
    target = sqlite3.connect(folder / "panelmap.db")
    source.backup(target)
    source.close()
    target.close()
    database_url = f"sqlite:///{folder / 'panelmap.db'}"
    database = Database.open(database_url)
    _enrich(database, ground_truth, folder / "enrich", leaked_secret=_secrets(world)[0])
    database.dispose()
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", database_url, "evidence", "keygen", "--out", str(folder / "org.pem")])
    assert result.exit_code == 0, result.output
    with LocalTimestampAuthority() as first, LocalTimestampAuthority() as second:
        chains = []
        for number, tsa in enumerate((first, second)):
            chain = folder / f"tsa{number}.pem"
            chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in tsa.certificates))
            chains += ["--tsa-certs", str(chain)]
        result = runner.invoke(cli, [
            "--db", database_url, "evidence", "export", UPSTREAM, RENDERED_RESELLER, "--case", "CASE-42",
            "--operator", "A. Analyst", "--key", str(folder / "org.pem"), "--tsa", first.url, "--tsa", second.url,
            *chains, "--secrets", str(secrets_file), "--out", str(folder / "pack.wacz"),
        ])
    assert result.exit_code == 0, result.output
    return {"path": folder / "pack.wacz", "db": database_url, "folder": folder, "output": result.output,
            "public_key": folder / "org.pub.pem", "roots": folder / "tsa0.pem"}


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_pack_passes_py_wacz_validation(pack) -> None:
    done = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(pack["path"])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the passed WACZ is valid" in done.stdout


def test_pack_verifies_offline_with_the_organisation_key(pack) -> None:
    result = CliRunner().invoke(cli, ["--db", pack["db"], "evidence", "verify", str(pack["path"]),
                                      "--public-key", str(pack["public_key"]), "--operator", "B. Expert",
                                      "--tsa-roots", str(pack["folder"] / "tsa0.pem"),
                                      "--tsa-roots", str(pack["folder"] / "tsa1.pem")])
    assert result.exit_code == 0, result.output
    assert "VERIFIED: every check passed" in result.output
    assert result.output.count("chains to a trusted root you gave") == 2  # both TSAs' tokens
    assert "made by the public key you gave" in result.output


def test_a_pack_checked_against_another_key_or_tsa_root_is_refused(pack, tmp_path) -> None:
    stranger = tmp_path / "stranger.pem"
    assert CliRunner().invoke(cli, ["evidence", "keygen", "--out", str(stranger)]).exit_code == 0
    result = CliRunner().invoke(cli, ["--db", pack["db"], "evidence", "verify", str(pack["path"]), "--no-record",
                                      "--public-key", str(tmp_path / "stranger.pub.pem"),
                                      "--tsa-roots", str(pack["folder"] / "tsa0.pem")])
    assert result.exit_code == 1
    assert "FAIL  signature: valid but made by key" in result.output
    assert "FAIL  timestamp 2" in result.output and "not signed through a root you trust" in result.output


def test_pack_holds_every_kind_of_capture_byte_for_byte(pack) -> None:
    members = _members(pack["path"])
    rows = [json.loads(line) for line in members["evidence/captures.jsonl"].splitlines()]
    kept = [row for row in rows if not row.get("withheld")]
    assert {row["kind"] for row in kept} == {"response", "dom", "screenshot", "dns", "rdap", "tls"}
    for row in kept:
        source = Path(row["source_file"]).read_bytes()[row["source_offset"]:row["source_offset"] + row["length"]]
        copied = members[row["archive_path"]][row["offset"]:row["offset"] + row["length"]]
        assert copied == source, f"capture {row['capture_id']} was not copied byte for byte"
    pages = [json.loads(line) for line in members["pages/pages.jsonl"].splitlines()]
    assert pages[0]["format"] == "json-pages-1.0" and any(page["url"].endswith(f"{UPSTREAM}/") for page in pages[1:])
    package = json.loads(members["datapackage.json"])
    assert {resource["path"] for resource in package["resources"]} == set(members) - {
        "datapackage.json", "datapackage-digest.json"}


def test_a_record_holding_a_secret_is_withheld_and_listed(pack) -> None:
    members = _members(pack["path"])
    rows = [json.loads(line) for line in members["evidence/captures.jsonl"].splitlines()]
    withheld = [row for row in rows if row.get("withheld")]
    assert [row["url"] for row in withheld] == [LEAKY_RDAP_URI]
    assert "contains a configured secret" in withheld[0]["reason"]
    assert LEAKY_RDAP_URI in members["evidence/report.html"].decode()
    assert "1 withheld" in pack["output"]


def _decompressed(members: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """Every member's bytes, and for gzip members (WARCs, the index) every gzip member inside, inflated."""
    found = []
    for name, data in members.items():
        found.append((name, data))
        if name.endswith(".gz"):
            found.append((f"{name} (inflated)", gzip.decompress(data)))
    return found


def test_no_configured_secret_appears_anywhere_in_the_pack(pack, world) -> None:
    secrets = _secrets(world)
    assert secrets
    haystacks = _decompressed(_members(pack["path"]))
    haystacks += [(path.name, path.read_bytes()) for path in pack["folder"].glob("pack.report.*")]
    assert any(b"[REDACTED]" in data for _, data in haystacks)  # the crawl's keys were sent and redacted
    for secret in secrets:
        for name, data in haystacks:
            assert secret.encode() not in data, f"a configured secret is in {name}"
    provenance = json.loads(_members(pack["path"])["evidence/provenance.json"])
    enrich_run = next(run for run in provenance["crawl_runs"] if run["job"] == "enrich")
    assert enrich_run["config"]["api_key"] == "[REDACTED]"  # scrubbed by name as well


def test_report_explains_the_site_its_network_and_artefacts(pack) -> None:
    html = _members(pack["path"])["evidence/report.html"].decode()
    assert html == (pack["folder"] / "pack.report.html").read_text()
    for expected in ("What an SMM panel is", "Spotify", "cheapest Spotify plays", "<svg", "rapidboost.com",
                     "buys from", "services both sell agree with the markup; price lists: <a href=\"#A",
                     "abuse@datafort.example", "bobsal.gateway.mastercard.com", "Chain of custody",
                     "NOT A TRUSTED TIMESTAMP AUTHORITY", "git ", "Chromium", "CASE-42", "A. Analyst"):
        assert expected in html, expected
    assert OLD_GENERATION not in html
    rows = [json.loads(line) for line in _members(pack["path"])["evidence/captures.jsonl"].splitlines()]
    for row in rows:
        if not row.get("withheld"):
            assert row["sha256"] in html  # every artefact's hash is in the table


def test_report_pdf_renders_to_a_non_blank_page(pack, tmp_path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is missing: install Debian's poppler-utils (apt-get install -y poppler-utils)")
    pdf = pack["folder"] / "pack.report.pdf"
    assert pdf.read_bytes() == _members(pack["path"])["evidence/report.pdf"]
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    assert ImageStat.Stat(image).stddev[0] > 20, "the first page of the report is blank"


def test_export_records_the_pack_and_its_custody_chain(pack) -> None:
    database = Database.open(pack["db"])
    with database.session() as session:
        row = session.scalars(select(EvidencePack).filter_by(case_id="CASE-42")).one()
        assert row.sha256 == hashlib.sha256(pack["path"].read_bytes()).hexdigest()
        assert row.sites == [UPSTREAM, RENDERED_RESELLER]
        assert len(row.signature["timestamps"]) == 2
        entries = custody.load_entries(session, row.id)
    database.dispose()
    assert [entry.action for entry in entries[:2]] == ["created", "exported"]
    assert custody.chain_problems(entries) == []
    in_pack = custody.from_jsonl(_members(pack["path"])["evidence/custody.jsonl"])
    assert [entry.entry_hash for entry in in_pack] == [entries[0].entry_hash]


# -- tampering ------------------------------------------------------------------------------------------


def _flip(data: bytes, position: int | None = None) -> bytes:
    position = len(data) // 2 if position is None else position
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]


def _edit_digest(field: str) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        digest = json.loads(data)
        if field == "signature":
            raw = base64.b64decode(digest["signedData"]["signature"])
            digest["signedData"]["signature"] = base64.b64encode(_flip(raw)).decode()
        else:
            raw = base64.b64decode(digest["timestamps"][0]["token"])
            digest["timestamps"][0]["token"] = base64.b64encode(_flip(raw)).decode()
        return json.dumps(digest, indent=2).encode()
    return edit


def _rewrite(source: Path, target: Path, member: str, edit: Callable[[bytes], bytes]) -> Path:
    """The pack with one member's bytes edited, everything else (compression included) as it was."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            data = original.read(info)
            copy.writestr(info, edit(data) if info.filename == member else data)
    return target


def _archive_name(pack: dict) -> str:
    return next(name for name in _members(pack["path"]) if name.startswith("archive/"))


@pytest.mark.parametrize("member, edit, named", [
    ("WARC", _flip, "archive/"),
    ("indexes/index.cdx.gz", _flip, "indexes/index.cdx.gz"),
    ("pages/pages.jsonl", _flip, "pages/pages.jsonl"),
    ("evidence/report.html", _flip, "evidence/report.html"),
    ("evidence/report.pdf", _flip, "evidence/report.pdf"),
    ("datapackage.json", _flip, "datapackage.json"),
    ("datapackage-digest.json", _edit_digest("signature"), "signature"),
    ("datapackage-digest.json", _edit_digest("token"), "timestamp 1"),
    ("evidence/custody.jsonl", _flip, "custody"),
], ids=["warc", "index", "pages", "report-html", "report-pdf", "datapackage", "signature", "timestamp", "custody"])
def test_one_flipped_byte_fails_verification_and_is_named(pack, tmp_path, member, edit, named) -> None:
    member = _archive_name(pack) if member == "WARC" else member
    tampered = _rewrite(pack["path"], tmp_path / "tampered.wacz", member, edit)
    verdict = verify_pack(tampered)
    assert not verdict.ok
    assert any(named in check.subject for check in verdict.failures), verdict.text()


def test_flipped_byte_in_the_zip_itself_is_caught_and_the_cli_exits_non_zero(pack, tmp_path) -> None:
    data = pack["path"].read_bytes()
    with zipfile.ZipFile(pack["path"]) as archive:
        info = archive.getinfo(_archive_name(pack))
    # The stored WARC's bytes follow its local header: 30 bytes, then the name and extra field.
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    tampered = tmp_path / "raw.wacz"
    tampered.write_bytes(_flip(data, start + info.compress_size // 2))
    result = CliRunner().invoke(cli, ["--db", pack["db"], "evidence", "verify", str(tampered), "--no-record"])
    assert result.exit_code == 1
    assert "NOT VERIFIED" in result.output and _archive_name(pack) in result.output


def test_rehashing_a_changed_file_is_caught_by_the_signature(pack, tmp_path) -> None:
    members = _members(pack["path"])
    report = members["evidence/report.html"].replace(b"A. Analyst", b"Z. Forger ")
    package = json.loads(members["datapackage.json"])
    for resource in package["resources"]:
        if resource["path"] == "evidence/report.html":
            resource["hash"] = "sha256:" + hashlib.sha256(report).hexdigest()
    package_bytes = json.dumps(package, indent=2).encode()
    digest = json.loads(members["datapackage-digest.json"])
    digest["hash"] = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    edited = {"evidence/report.html": report, "datapackage.json": package_bytes,
              "datapackage-digest.json": json.dumps(digest).encode()}
    target = tmp_path / "forged.wacz"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, edited.get(name, data))
    verdict = verify_pack(target)
    assert [check.subject for check in verdict.failures] == ["signature"]


def test_verifying_and_copying_extend_the_database_custody_log(pack, tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", pack["db"], "evidence", "copy", str(pack["path"]), str(tmp_path),
                                 "--operator", "C. Clerk"])
    assert result.exit_code == 0, result.output
    copy = tmp_path / pack["path"].name
    assert copy.read_bytes() == pack["path"].read_bytes()
    assert (tmp_path / "pack.report.pdf").exists()
    result = runner.invoke(cli, ["--db", pack["db"], "evidence", "verify", str(copy), "--operator", "D. Judge"])
    assert result.exit_code == 0, result.output
    database = Database.open(pack["db"])
    with database.session() as session:
        pack_id = session.scalars(select(EvidencePack.id).filter_by(case_id="CASE-42")).one()
        entries = custody.load_entries(session, pack_id)
        assert custody.chain_problems(entries) == []
        assert [(entry.action, entry.actor) for entry in entries[-2:]] == [("copied", "C. Clerk"),
                                                                          ("verified", "D. Judge")]
        # Rewriting history in the database is visible to the next verification.
        session.scalars(select(CustodyEvent).filter_by(pack_id=pack_id, sequence=2)).one().actor = "someone else"
    database.dispose()
    result = runner.invoke(cli, ["--db", pack["db"], "evidence", "verify", str(copy), "--operator", "D. Judge"])
    assert result.exit_code == 1
    assert "custody (database)" in result.output and "entry 2 (exported) was altered" in result.output


def test_export_refuses_unknown_sites_and_existing_files_in_one_line(pack) -> None:
    runner = CliRunner()
    base = ["--db", pack["db"], "evidence", "export", "--case", "X", "--operator", "A",
            "--key", str(pack["folder"] / "org.pem")]
    result = runner.invoke(cli, [*base, "nosuchpanel.example", "--out", str(pack["folder"] / "new.wacz")])
    assert result.exit_code == 2 and "no site nosuchpanel.example" in result.output
    result = runner.invoke(cli, [*base, UPSTREAM, "--out", str(pack["path"])])
    assert result.exit_code == 2 and "exists" in result.output
    assert len(result.output.strip().splitlines()) == 1
