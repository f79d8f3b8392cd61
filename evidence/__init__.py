"""Evidence packs: signed, hashed, timestamped WACZ captures for legal teams.

    from panelmap.evidence import export_pack, verify_pack
    from panelmap.evidence.signing import generate_keypair, load_public_key

    result = export_pack(database, ["justanotherpanel.com"], case_id="2024-017", operator="A. Analyst",
                         out=Path("jap.wacz"), key=Path("org.pem"), tsa_urls=["https://tsa.example/"])
    verdict = verify_pack(result.path, public_key=load_public_key("org.pub.pem"))
    print(verdict.text())
"""

from .demo import DemoPack, export_demo_pack, largest_upstream
from .errors import EvidenceError
from .export import ExportResult, export_pack
from .ledger import LedgerResult, copy_pack, record_verification
from .tsa import LocalTimestampAuthority
from .verify import Check, Verdict, verify_pack

__all__ = [
    "Check",
    "copy_pack",
    "DemoPack",
    "EvidenceError",
    "export_demo_pack",
    "export_pack",
    "ExportResult",
    "largest_upstream",
    "LedgerResult",
    "LocalTimestampAuthority",
    "record_verification",
    "Verdict",
    "verify_pack",
]
