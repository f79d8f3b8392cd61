"""`panelmap evidence`: keygen, export, verify and copy evidence packs.

A thin shell over export.py, verify.py and ledger.py. Problems the user can fix
end in one line and exit code 2; a pack that fails verification exits 1 after
naming every check that failed.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from sqlalchemy.engine import make_url

from panelmap.cli import UserError
from panelmap.spiders.secrets import Secrets, SecretsError
from panelmap.storage import Database, DatabaseError, resolve_url

from .errors import EvidenceError
from .export import export_pack
from .ledger import copy_pack, record_verification
from .signing import generate_keypair, key_fingerprint, load_private_key, load_public_key
from .verify import verify_pack

VERIFICATION_FAILED_EXIT = 1


class EvidenceGroup(click.Group):
    """Turns the evidence stage's errors (and storage's) into one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (EvidenceError, DatabaseError, SecretsError) as exc:
            raise UserError(str(exc)) from None


def _certificates(paths: tuple[str, ...]) -> list[x509.Certificate]:
    found = []
    for path in paths:
        try:
            found += x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError):
            raise EvidenceError(f"{path} is not a readable PEM certificate file") from None
    return found


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


def _existing_database(db_url: str | None) -> Database | None:
    """The configured database if it exists and has the schema; verifying never creates one."""
    url = resolve_url(db_url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file()):
        return None
    database = Database.open(url)
    try:
        database.require_schema()
    except DatabaseError:
        database.dispose()
        return None
    return database


@click.group(cls=EvidenceGroup)
def evidence() -> None:
    """Evidence packs for legal teams: signed, hashed, timestamped WACZ files."""


@evidence.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Private key file to write (PEM); the public key goes beside it as *.pub.pem.")
def keygen(out: Path) -> None:
    """Make the organisation's signing key (ECDSA P-256). Keep the private key off shared drives."""
    private_path, public_path = generate_keypair(out)
    click.echo(f"private key: {private_path} (never share it; packs never contain it)")
    click.echo(f"public key:  {public_path} (give it to whoever verifies your packs)")
    click.echo(f"fingerprint: {key_fingerprint(load_public_key(public_path))}")


@evidence.command()
@click.argument("sites", nargs=-1, required=True)
@click.option("--case", "case_id", required=True, help="Case identifier, written into the pack and its custody log.")
@click.option("--operator", required=True, envvar="PANELMAP_OPERATOR", help="Who exports ($PANELMAP_OPERATOR).")
@click.option("--key", required=True, envvar="PANELMAP_EVIDENCE_KEY", type=click.Path(exists=True, dir_okay=False),
              help="The organisation's private key from `evidence keygen` ($PANELMAP_EVIDENCE_KEY).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only captures from this date or time on (UTC).")
@click.option("--tsa", "tsa_urls", multiple=True, metavar="URL",
              help="RFC 3161 timestamp authority to stamp the pack (repeat for several).")
@click.option("--tsa-certs", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM file with a TSA's CA certificates, stored with its tokens (repeatable).")
@click.option("--secrets", "secrets_file", type=click.Path(exists=True, dir_okay=False),
              help="The crawl's secrets file: none of its values may appear in the pack.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The pack to write (.wacz).")
@click.pass_obj
def export(app: Any, sites: tuple[str, ...], case_id: str, operator: str, key: str, since: datetime | None,
           tsa_urls: tuple[str, ...], tsa_certs: tuple[str, ...], secrets_file: str | None, out: Path) -> None:
    """Export the captures of SITES as an evidence pack, with its report beside it."""
    if out.suffix != ".wacz":
        raise EvidenceError(f"{out}: an evidence pack's name ends in .wacz")
    if out.exists():
        raise EvidenceError(f"{out} exists: export never overwrites a pack")
    secrets = Secrets.load(secrets_file).values() if secrets_file else []
    database = app.open_database()
    result = export_pack(database, sites, case_id=case_id, operator=operator, out=out, key=load_private_key(key),
                         since=_utc(since), tsa_urls=tsa_urls, tsa_certificates=_certificates(tsa_certs),
                         secrets=secrets)
    click.echo(f"pack:       {result.path}")
    click.echo(f"SHA-256:    {result.sha256}")
    click.echo(f"artefacts:  {result.artefacts}" + (f" ({len(result.withheld)} withheld, listed in the report)"
                                                     if result.withheld else ""))
    click.echo(f"report:     {result.report_pdf} and {result.report_html}")
    click.echo(f"signed by:  {result.key_fingerprint}")
    for stamp in result.timestamps:
        click.echo(f"timestamp:  {stamp.gen_time:%Y-%m-%d %H:%M:%S} UTC from {stamp.tsa}")
    if not result.timestamps:
        click.echo("timestamp:  none (give --tsa URL to have the pack timestamped)")


@evidence.command()
@click.argument("pack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="The organisation's public key: the pack must be signed by it.")
@click.option("--tsa-roots", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM file of TSA root certificates you trust (repeatable); without it, the roots stored "
                   "with the tokens are used and the verdict says they were not checked.")
@click.option("--operator", default=_login_name, envvar="PANELMAP_OPERATOR",
              help="Who verifies, for the custody log (default: the login name).")
@click.option("--record/--no-record", default=True, show_default=True,
              help="Add a `verified` entry to the pack's custody log, if the database knows the pack.")
@click.pass_obj
def verify(app: Any, pack: Path, public_key: str | None, tsa_roots: tuple[str, ...], operator: str,
           record: bool) -> None:
    """Check every hash, WARC digest, the signature, each timestamp and the custody log, offline."""
    verdict = verify_pack(pack, public_key=load_public_key(public_key) if public_key else None,
                          trusted_tsa_roots=_certificates(tsa_roots))
    click.echo(verdict.text())
    ok = verdict.ok
    database = _existing_database(app.db_url) if record else None
    if record and database is None:
        click.echo("custody: not recorded (no migrated panelmap database here; give --db to record the check)")
    if database is not None:
        ledger = record_verification(database, verdict, operator)
        for problem in ledger.problems:
            click.echo(f"FAIL  custody (database): {problem}")
        click.echo(ledger.message)
        ok = ok and not ledger.problems
        database.dispose()
    sys.exit(0 if ok else VERIFICATION_FAILED_EXIT)


@evidence.command()
@click.argument("pack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("destination", type=click.Path(path_type=Path))
@click.option("--operator", required=True, envvar="PANELMAP_OPERATOR", help="Who copies, for the custody log.")
@click.pass_obj
def copy(app: Any, pack: Path, destination: Path, operator: str) -> None:
    """Copy a pack (and its report), check the copy is identical, and log the copy."""
    database = app.open_database()
    ledger = copy_pack(database, pack, destination, operator)
    for problem in ledger.problems:
        click.echo(f"warning: {problem}")
    click.echo(ledger.message)
