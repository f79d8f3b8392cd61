"""`Sandbox`: one world's proxy, DNS and RDAP servers on loopback, run from a background thread.

Tests and the demo use it as a context manager; the CLI uses `serve_forever`. All
servers share one event loop in one thread, so stopping is one hop: close the
servers, cancel what is left, close the loop, join the thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import signal
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from panelmap.sandbox.dns import DnsServer
from panelmap.sandbox.proxy import SandboxProxy
from panelmap.sandbox.rdap import RdapServer
from panelmap.sandbox.tls import SandboxCertificates
from panelmap.sandbox.world import World

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

T = TypeVar("T")


def require_loopback(host: str) -> str:
    """`host` if it is an address in 127.0.0.0/8, else ValueError: the sandbox never listens beyond loopback."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"sandbox host must be an address in {LOOPBACK}, got {host!r}") from None
    if address not in LOOPBACK:
        raise ValueError(f"sandbox host must be an address in {LOOPBACK}, got {host}")
    return str(address)


class Sandbox:
    """Serves `world` on loopback: `with Sandbox(world, workdir) as sb: ... sb.proxy_url ...`.

    `workdir` receives the CA bundle (`ca.pem`), the leaf certificates (`certs/`) and
    the ground truth (`ground_truth.json`: the world's, plus every host's certificate).
    Ports default to ephemeral ones. The servers and files exist from `start()` on.
    """

    certificates: SandboxCertificates
    proxy: SandboxProxy
    dns: DnsServer
    rdap: RdapServer  # rate_limit(), counts
    ground_truth_path: Path

    def __init__(
        self,
        world: World,
        workdir: Path | str,
        *,
        host: str = "127.0.0.1",
        proxy_port: int = 0,
        dns_port: int = 0,
        rdap_port: int = 0,
        latency: float = 0.0,
    ) -> None:
        self.world = world
        self.latency = latency  # seconds each site takes to answer; 0 answers at once
        self.workdir = Path(workdir)
        self.host = require_loopback(host)
        self._requested_ports = (proxy_port, dns_port, rdap_port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("sandbox already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.certificates = SandboxCertificates(self.world.certificates, self.workdir)
        self.proxy = SandboxProxy(self.world.sites, self.certificates, latency=self.latency)
        self.dns = DnsServer(self.world.dns, self.world.networks)
        self.rdap = RdapServer(self.world.networks)
        self.ground_truth_path = self.workdir / "ground_truth.json"
        truth = {**self.world.ground_truth, "certificates": self.certificates.describe()}
        # Compact: a benchmark world of thousands of sites has a ground truth of many megabytes.
        self.ground_truth_path.write_text(json.dumps(truth, sort_keys=True) + "\n", encoding="utf-8")
        self._stop_requested.clear()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="panelmap-sandbox", daemon=True)
        self._thread.start()
        try:
            self._call(self._start_servers(), START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close every listener and connection, end the loop and its thread. Idempotent."""
        self._stop_requested.set()
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            if thread.is_alive():
                self._call(self._stop_servers(), STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_TIMEOUT)
            self._loop = self._thread = None

    def serve_forever(self) -> None:
        """Block until Ctrl-C, SIGTERM or `stop()` from another thread, then stop."""
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, lambda *_: self._stop_requested.set()) if in_main_thread else None
        try:
            while not self._stop_requested.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous)
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- addresses ---------------------------------------------------------------------

    @property
    def proxy_url(self) -> str:
        return f"http://{self.host}:{self.proxy.port}"

    @property
    def dns_address(self) -> tuple[str, int]:
        return (self.host, self.dns.port)

    @property
    def rdap_url(self) -> str:
        return self.rdap.url

    @property
    def ca_bundle(self) -> Path:
        return self.certificates.ca_bundle

    # -- the loop thread ---------------------------------------------------------------

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(asyncio.sleep(0))  # callbacks that close aborted sockets
            loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _start_servers(self) -> None:
        proxy_port, dns_port, rdap_port = self._requested_ports
        await self.proxy.start(self.host, proxy_port)
        await self.dns.start(self.host, dns_port)
        await self.rdap.start(self.host, rdap_port)

    async def _stop_servers(self) -> None:
        await self.proxy.close()
        await self.dns.close()
        await self.rdap.close()
