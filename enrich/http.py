"""A small asyncio HTTP/1.1 client (h11 framing) that honours `--proxy`, for RDAP and favicon fetches.

Why not urllib or a big client: enrichers need the exact bytes and headers for
the WARC record, the 429 `Retry-After` header, a CONNECT tunnel they can also
hand to the TLS grabber, and no thread per request. Loopback targets bypass the
proxy, as with the usual `no_proxy=localhost`: a proxy cannot reach our own
loopback, and local services (the sandbox's RDAP) live there.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote, urljoin, urlsplit

import h11

READ_SIZE = 64 * 1024
MAX_BODY = 20 * 1024 * 1024  # default cap on a response body, as received
REDIRECTS = {301, 302, 303, 307, 308}
CREDENTIAL_HEADERS = {"cookie", "authorization"}


class HttpError(Exception):
    """The request could not be completed (connection, proxy refusal, framing, timeout)."""


@dataclass(frozen=True)
class HttpResult:
    url: str  # the URL this response answered (the last hop after redirects)
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime
    duration_ms: int
    peer_ip: str | None  # the origin's address when connected directly; None through a proxy

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # Proxy-Authorization value, from user:password in the URL

    @classmethod
    def parse(cls, url: str) -> Proxy:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"unsupported proxy URL {url!r}: expected http://host:port")
        authorization = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
        return cls(parts.hostname, parts.port or 80, authorization)


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def trust_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A verifying client context: the system's roots plus `ca_bundle`."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


def lenient_context() -> ssl.SSLContext:
    """For fetching content from sites whatever their certificate: the TLS enricher judges it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class HttpClient:
    """GET over HTTP/1.1, one connection per request, through `proxy_url` when set."""

    def __init__(self, proxy_url: str | None, *, ca_bundle: str | None, timeout: float, user_agent: str,
                 slots: asyncio.Semaphore) -> None:
        self.proxy = Proxy.parse(proxy_url) if proxy_url else None
        self.timeout = timeout
        self.user_agent = user_agent
        self.slots = slots
        self._verifying = trust_context(ca_bundle)
        self._lenient = lenient_context()

    async def open_tunnel(self, host: str, port: int, *, address: str | None = None
                          ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str | None]:
        """A byte stream to `host:port`: a CONNECT tunnel through the proxy, else a direct
        connection (to `address` when the caller resolved the host itself). Returns the
        peer address when direct."""
        if self.proxy is not None and not is_loopback(host):
            reader, writer = await asyncio.open_connection(self.proxy.host, self.proxy.port)
            try:
                await self._connect_through(reader, writer, host, port)
            except BaseException:
                writer.transport.abort()
                raise
            return reader, writer, None
        reader, writer = await asyncio.open_connection(address or host.strip("[]"), port)
        peer = writer.get_extra_info("peername")
        return reader, writer, peer[0] if peer else None

    async def _connect_through(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               host: str, port: int) -> None:
        assert self.proxy is not None
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        headers = [("Host", authority)]
        if self.proxy.authorization:
            headers.append(("Proxy-Authorization", self.proxy.authorization))
        connection = h11.Connection(h11.CLIENT)
        writer.write(connection.send(h11.Request(method="CONNECT", target=authority, headers=headers)))
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()
        while True:
            try:
                event = connection.next_event()
            except h11.ProtocolError as exc:
                raise HttpError(f"proxy gave no usable answer to CONNECT {authority}: {exc}") from exc
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(READ_SIZE))
                continue
            if isinstance(event, h11.Response):
                if event.status_code != 200:
                    raise HttpError(f"proxy refused CONNECT {authority}: {event.status_code} {event.reason.decode()}")
                if connection.trailing_data[0]:
                    raise HttpError(f"proxy sent data into the tunnel to {authority} before we spoke")
                return
            if isinstance(event, h11.ConnectionClosed):
                raise HttpError(f"proxy closed the connection on CONNECT {authority}")

    async def get(self, url: str, *, headers: list[tuple[str, str]] | None = None, verify: bool = True,
                  max_redirects: int = 0, max_bytes: int = MAX_BODY) -> list[HttpResult]:
        """GET `url`; returns every hop (redirects followed up to `max_redirects`), the last one last.

        `verify=False` fetches from servers whose certificate is invalid; a body longer
        than `max_bytes` is an HttpError.
        """
        hops: list[HttpResult] = []
        headers = list(headers or [])
        while True:
            async with self.slots:
                try:
                    result = await asyncio.wait_for(self._get_once(url, headers, verify, max_bytes), self.timeout)
                except TimeoutError:
                    raise HttpError(f"no complete answer from {url} within {self.timeout}s") from None
            hops.append(result)
            location = result.header("location")
            if result.status not in REDIRECTS or not location or len(hops) > max_redirects:
                return hops
            target = urljoin(url, location)
            if urlsplit(target).hostname != urlsplit(url).hostname:  # credentials stay with their host
                headers = [(name, value) for name, value in headers if name.lower() not in CREDENTIAL_HEADERS]
            url = target

    async def _get_once(self, url: str, extra_headers: list[tuple[str, str]], verify: bool,
                        max_bytes: int) -> HttpResult:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(f"unsupported URL {url!r}")
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rsplit("@", 1)[-1]
        proxied_plain = self.proxy is not None and parts.scheme == "http" and not is_loopback(host)
        started = time.monotonic()
        fetched_at = datetime.now(timezone.utc)
        try:
            if proxied_plain:
                assert self.proxy is not None
                reader, writer = await asyncio.open_connection(self.proxy.host, self.proxy.port)
                peer_ip = None
                target = url  # absolute form, as proxies expect for http
            else:
                reader, writer, peer_ip = await self.open_tunnel(host, port)
            if parts.scheme == "https":
                context = self._verifying if verify else self._lenient
                await writer.start_tls(context, server_hostname=host)
        except (OSError, ssl.SSLError) as exc:
            raise HttpError(f"cannot connect for {url}: {exc}") from exc
        try:
            request_headers = [("Host", host_header), ("User-Agent", self.user_agent), ("Accept", "*/*"),
                               ("Accept-Encoding", "identity"), ("Connection", "close"), *extra_headers]
            if proxied_plain and self.proxy is not None and self.proxy.authorization:
                request_headers.append(("Proxy-Authorization", self.proxy.authorization))
            status, reason, response_headers, body = await _exchange(reader, writer, target, request_headers, max_bytes)
        except (OSError, ssl.SSLError, h11.ProtocolError) as exc:
            raise HttpError(f"request to {url} failed: {exc}") from exc
        finally:
            writer.transport.abort()
        return HttpResult(url, status, reason, response_headers, body, fetched_at,
                          int((time.monotonic() - started) * 1000), peer_ip)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: str,
                    headers: list[tuple[str, str]], max_bytes: int) -> tuple[int, str, list[tuple[str, str]], bytes]:
    connection = h11.Connection(h11.CLIENT)
    writer.write(connection.send(h11.Request(method="GET", target=target, headers=headers)))
    writer.write(connection.send(h11.EndOfMessage()))
    await writer.drain()
    status, reason, response_headers = 0, "", []
    chunks: list[bytes] = []
    size = 0
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Response):
            status, reason = event.status_code, event.reason.decode("latin-1")
            response_headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers]
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > max_bytes:
                raise HttpError(f"response body over {max_bytes} bytes")
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return status, reason, response_headers, b"".join(chunks)
        elif isinstance(event, h11.ConnectionClosed):
            raise HttpError("connection closed before the response ended")
