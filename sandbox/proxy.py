"""The sandbox's HTTP/1.1 front: a forward proxy that serves the world's sites by name.

Crawlers reach the sandbox the way investigators reach the web through a vantage
proxy: absolute-form requests for http (`GET http://host/path`), `CONNECT host:443`
for https (TLS is terminated here with the host's sandbox certificate), and plain
origin-form requests with a Host header. Nothing is ever forwarded: a host the world
does not know gets a 502 that says so. HTTP framing is h11's; this module only routes
and streams. The same `HttpServer` without tunnelling serves the RDAP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Literal
from urllib.parse import urlsplit

import h11

from panelmap.sandbox.tls import SandboxCertificates
from panelmap.sandbox.world import HttpRequest, HttpResponse, SiteHandler

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
IDLE_TIMEOUT = 60.0  # seconds a client may stay silent, between or inside requests
TLS_HANDSHAKE_TIMEOUT = 10.0
MAX_REQUEST_BODY = 10 * 1024 * 1024
# Hop-by-hop headers (RFC 9110 section 7.6.1) and proxy credentials never reach a site.
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
    "te", "trailer", "transfer-encoding", "upgrade",
}
_QUIET_ERRORS = (ConnectionError, TimeoutError, ssl.SSLError, h11.ProtocolError, asyncio.IncompleteReadError)

Route = Callable[[str], SiteHandler | None]
Scheme = Literal["http", "https"]


class _Peer:
    """One client byte stream driven through an h11 server state machine."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.SERVER)

    async def next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(self.reader.read(READ_SIZE), IDLE_TIMEOUT)
            self.conn.receive_data(data)

    async def send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    @property
    def reusable(self) -> bool:
        return self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE


def text_response(status: int, message: str, *, close: bool = False) -> HttpResponse:
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Server", "panelmap-sandbox")]
    if close:
        headers.append(("Connection", "close"))
    return HttpResponse(status, headers, (message.rstrip("\n") + "\n").encode())


class StreamListener:
    """`asyncio.start_server` that also drops its open connections on `close()`.

    Python 3.11's `Server` has no `close_clients()`: without this, connections open at
    shutdown (or accepted just before it) would keep their sockets after the sandbox stopped.
    """

    def __init__(self, handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> None:
        self._handle = handle
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.closing = False

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return self._server.sockets[0].getsockname()[1]

    async def start(self, host: str, port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _TrackedProtocol(self, loop), host, port, reuse_address=True)
        return self.port

    async def close(self) -> None:
        if self._server is None:
            return
        self.closing = True
        # Stop accepting first (this also cancels an accept already queued), then let the
        # connections accepted so far reach connection_made, where `closing` aborts them:
        # 3.11 silently leaks a socket accepted just before `Server.close()`.
        loop = asyncio.get_running_loop()
        for sock in self._server.sockets:
            loop.remove_reader(sock.fileno())
        for _ in range(2):
            await asyncio.sleep(0)
        self._server.close()
        for transport in list(self._transports):
            transport.abort()
        await asyncio.sleep(0)  # tasks of just-accepted connections start and see the abort
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except asyncio.CancelledError:
            # close() cancels us. Ending normally matters: on Python 3.11 the streams
            # machinery logs a spurious error for a client task that ends cancelled.
            writer.transport.abort()
        finally:
            self._tasks.discard(task)


class _TrackedProtocol(asyncio.StreamReaderProtocol):
    def __init__(self, listener: StreamListener, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(asyncio.StreamReader(loop=loop), listener._run, loop=loop)
        self._listener = listener
        self._tracked: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._listener.closing:
            transport.abort()
            return
        self._tracked = transport
        self._listener._transports.add(transport)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._tracked is not None:
            self._listener._transports.discard(self._tracked)
        super().connection_lost(exc)


class HttpServer:
    """HTTP/1.1 over h11 on a loopback port, one task per client connection.

    `route(host)` picks the handler for a request's host. With `certificates` the
    server is a forward proxy: it also tunnels `CONNECT host:443` (TLS terminated with
    that host's certificate) and `CONNECT host:80`, and takes absolute-form requests for
    http on port 80 only. A broken or malicious client costs only its own connection.
    `latency` (seconds) delays every answer, as a distant or busy site would.
    """

    def __init__(self, route: Route, certificates: SandboxCertificates | None = None, *,
                 latency: float = 0.0) -> None:
        self._route = route
        self._latency = latency
        self._certificates = certificates
        self._listener = StreamListener(self._accept)

    @property
    def is_proxy(self) -> bool:
        return self._certificates is not None

    @property
    def port(self) -> int:
        return self._listener.port

    async def start(self, host: str, port: int = 0) -> int:
        return await self._listener.start(host, port)

    async def close(self) -> None:
        """Stop listening and drop every open connection (streams in progress included)."""
        await self._listener.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve_requests(_Peer(reader, writer), "http", tunnel_host=None)
        except _QUIET_ERRORS as exc:
            log.debug("connection dropped: %r", exc)
        except Exception:
            log.exception("connection failed")
        finally:
            await _close_writer(writer)

    async def _serve_requests(self, peer: _Peer, scheme: Scheme, tunnel_host: str | None) -> None:
        """Answer requests on one connection (keep-alive) until either side closes it."""
        while True:
            try:
                event = await peer.next_event()
            except h11.RemoteProtocolError as exc:
                if peer.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    refusal = text_response(exc.error_status_hint, f"malformed request: {exc}", close=True)
                    await self._respond(peer, refusal)
                return
            if not isinstance(event, h11.Request):
                return  # ConnectionClosed, or PAUSED after an unanswered protocol switch
            if event.method == b"CONNECT":
                await self._connect(peer, event, tunnel_host)
                return
            response = await self._dispatch(peer, event, scheme, tunnel_host)
            await self._respond(peer, response, head_only=event.method == b"HEAD")
            if not peer.reusable:
                return
            peer.conn.start_next_cycle()

    async def _dispatch(self, peer: _Peer, head: h11.Request, scheme: Scheme, tunnel_host: str | None) -> HttpResponse:
        target = head.target.decode("ascii", "replace")
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers]
        if tunnel_host is not None:
            host, path = tunnel_host, target
        else:
            try:
                host, path = self._locate(target, headers)
            except _Unroutable as exc:
                return text_response(exc.status, str(exc), close=True)
        body = await self._read_body(peer)
        if body is None:
            return text_response(413, f"request body over {MAX_REQUEST_BODY} bytes", close=True)
        handler = self._route(host)
        if handler is None:
            return _unknown_host(host)
        request = HttpRequest(
            method=head.method.decode("ascii", "replace"),
            scheme=scheme,
            host=host,
            target=path,
            headers=[(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP],
            body=body,
        )
        if self._latency:
            await asyncio.sleep(self._latency)
        try:
            response = await handler(request)
        except Exception:
            log.exception("site handler for %s failed on %s %s", host, request.method, path)
            return text_response(500, "internal server error")
        log.debug("%s %s://%s%s -> %s", request.method, scheme, host, path, response.status)
        return response

    def _locate(self, target: str, headers: list[tuple[str, str]]) -> tuple[str, str]:
        """(host, origin-form target) of a request outside a tunnel."""
        try:
            if target.startswith("/"):
                host_header = next((value for name, value in headers if name.lower() == "host"), "")
                return _host_name(urlsplit(f"//{host_header}").hostname), target
            if "://" not in target:
                raise _Unroutable(400, f"unsupported request target {target!r}")
            parts = urlsplit(target)
            if parts.scheme.lower() != "http":
                raise _Unroutable(400, f"unsupported scheme in {target!r}: use CONNECT for https")
            if self.is_proxy and (parts.port or 80) != 80:
                raise _Unroutable(502, f"panelmap sandbox proxy: nothing listens on {parts.hostname}:{parts.port}")
        except ValueError as exc:
            raise _Unroutable(400, f"bad request target {target!r}: {exc}") from None
        return _host_name(parts.hostname), (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    async def _read_body(self, peer: _Peer) -> bytes | None:
        """The whole request body, or None when it is over the limit."""
        if peer.conn.they_are_waiting_for_100_continue:
            await peer.send(h11.InformationalResponse(status_code=100, headers=[]))
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await peer.next_event()
            if isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_REQUEST_BODY:
                    return None
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("client closed mid-request")

    async def _respond(self, peer: _Peer, response: HttpResponse, *, head_only: bool = False) -> None:
        """Send a response; a streamed body goes out chunk by chunk as the site yields it."""
        body = response.body
        headers = [(name.encode("latin-1"), value.encode("utf-8")) for name, value in response.headers]
        framed = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in headers)
        if isinstance(body, bytes) and not framed:
            headers.append((b"Content-Length", str(len(body)).encode()))
        try:
            phrase = HTTPStatus(response.status).phrase.encode()
        except ValueError:
            phrase = b""
        bodiless = head_only or response.status in (204, 304)
        try:
            await peer.send(h11.Response(status_code=response.status, headers=headers, reason=phrase))
            if isinstance(body, bytes):
                if body and not bodiless:
                    await peer.send(h11.Data(data=body))
            elif not bodiless:
                async for chunk in body:
                    if chunk:
                        await peer.send(h11.Data(data=chunk))
            await peer.send(h11.EndOfMessage())
        finally:
            if not isinstance(body, bytes):
                await _close_iterator(body)

    async def _connect(self, peer: _Peer, head: h11.Request, tunnel_host: str | None) -> None:
        """CONNECT: answer 200, then serve the site's HTTP inside the tunnel (over TLS for 443)."""
        if await self._read_body(peer) is None:
            return
        authority = head.target.decode("ascii", "replace")
        refusal, context = self._tunnel_plan(authority, tunnel_host)
        if refusal is not None:
            await self._respond(peer, refusal)
            return
        await peer.send(h11.Response(status_code=200, headers=[], reason=b"Connection established"))
        trailing, closed = peer.conn.trailing_data
        if trailing or closed:
            return  # bytes sent before our 200: not a client we can serve
        host = _host_name(urlsplit(f"//{authority}").hostname)
        if context is not None:
            await peer.writer.start_tls(context, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT)
        await self._serve_requests(_Peer(peer.reader, peer.writer), "https" if context else "http", host)

    def _tunnel_plan(
        self, authority: str, tunnel_host: str | None
    ) -> tuple[HttpResponse | None, ssl.SSLContext | None]:
        """(refusal, None) or (None, TLS context or None for a plain tunnel)."""
        if not self.is_proxy or tunnel_host is not None:
            return text_response(405, "CONNECT is not supported here", close=True), None
        try:
            parts = urlsplit(f"//{authority}")
            host, port = _host_name(parts.hostname), parts.port
        except ValueError:
            return text_response(400, f"bad CONNECT target {authority!r}", close=True), None
        if self._route(host) is None:
            return _unknown_host(host, close=True), None
        if port == 80:
            return None, None
        assert self._certificates is not None
        issued = self._certificates.for_host(host)
        if port != 443 or issued is None:
            return text_response(502, f"panelmap sandbox proxy: nothing listens on {host}:{port}", close=True), None
        return None, issued.ssl_context()


class _Unroutable(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _host_name(host: str | None) -> str:
    return (host or "").lower().rstrip(".")


def _unknown_host(host: str, *, close: bool = False) -> HttpResponse:
    return text_response(
        502,
        f"panelmap sandbox proxy: no site named {host!r} in this world; "
        "the sandbox never forwards requests to the internet.",
        close=close,
    )


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    """Flush what is buffered (a last error page, say) and close; give up on a stuck peer."""
    if writer.transport.is_closing():
        return
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 5)
    except asyncio.CancelledError:
        writer.transport.abort()
        raise
    except OSError:  # timed out, reset, TLS shutdown failed
        writer.transport.abort()


async def _close_iterator(body: AsyncIterator[bytes]) -> None:
    """Let a streaming site's generator run its cleanup when the client goes away."""
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            result = aclose()
            if inspect.isawaitable(result):
                await result


class SandboxProxy(HttpServer):
    """The forward proxy over a world's sites (host -> handler) and their certificates."""

    def __init__(self, sites: Mapping[str, SiteHandler], certificates: SandboxCertificates, *,
                 latency: float = 0.0) -> None:
        lowered = {host.lower(): handler for host, handler in sites.items()}
        super().__init__(lowered.get, certificates, latency=latency)
