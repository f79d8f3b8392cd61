"""The evidence step of `panelmap demo`: a signed, timestamped pack for the sandbox's largest upstream.

The demo has no real timestamp authority (it is offline), so it runs
`LocalTimestampAuthority` on loopback for the length of the export. Its
certificates name it a demo TSA that nobody trusts, the report shows that name,
and the verdict says the TSA root was not checked against a trust list: the
demo shows how stamping works, not a time anyone should rely on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from panelmap.spiders.secrets import Secrets
from panelmap.storage import Database

from .export import ExportResult, export_pack
from .signing import generate_keypair
from .tsa import LocalTimestampAuthority
from .verify import Verdict, verify_pack

DEMO_CASE = "DEMO-SANDBOX"
DEMO_OPERATOR = "panelmap demo"


@dataclass(frozen=True)
class DemoPack:
    export: ExportResult
    verdict: Verdict


def largest_upstream(ground_truth: dict[str, Any]) -> str:
    """The served upstream with the most resellers in the sandbox's ground truth."""
    sites = ground_truth["sites"]
    resellers: Counter[str] = Counter(
        upstream["domain"] for site in sites.values() for upstream in site.get("upstreams", [])
    )
    served = [domain for domain, site in sites.items() if site["role"] == "upstream" and site["served"]]
    return max(served, key=lambda domain: (resellers[domain], domain))


def export_demo_pack(database_url: str, workdir: Path, ground_truth: dict[str, Any], *,
                     secrets_file: Path | None = None, console: Console | None = None) -> DemoPack:
    """Export and verify the demo pack into `workdir/evidence/`, printing where it is and the verdict."""
    console = console or Console()
    folder = workdir / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*"):
        stale.unlink()
    key_path, public_path = generate_keypair(folder / "demo-organisation.pem")
    site = largest_upstream(ground_truth)
    secrets = Secrets.load(secrets_file).values() if secrets_file else []
    database = Database.open(database_url)
    try:
        with LocalTimestampAuthority() as tsa:
            result = export_pack(database, [site], case_id=DEMO_CASE, operator=DEMO_OPERATOR,
                                 out=folder / f"{site}.wacz", key=key_path, tsa_urls=[tsa.url],
                                 tsa_certificates=tsa.certificates, secrets=secrets)
    finally:
        database.dispose()
    verdict = verify_pack(result.path)
    console.print(f"\n[bold]Evidence pack[/] for {site} (largest upstream), signed with a demo key and stamped "
                  "by a demo TSA on loopback (not a trusted timestamp authority)")
    console.print(f"  pack:   {result.path}\n  report: {result.report_pdf}\n  public key: {public_path}")
    console.print(f"  verdict: {'[green]VERIFIED[/]' if verdict.ok else '[red]NOT VERIFIED[/]'} "
                  f"({len(verdict.checks)} checks; `panelmap evidence verify {result.path}` shows them)")
    return DemoPack(result, verdict)
