"""`panelmap sandbox serve`: the simulated panel world on loopback, until Ctrl-C."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

import click

from panelmap.sandbox.server import Sandbox, require_loopback
from panelmap.sandbox.world import World


class SandboxUsageError(click.ClickException):
    """A bad option value: one line on stderr, exit code 2 (as the main CLI's UserError)."""

    exit_code = 2


def _loopback_host(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return require_loopback(value)
    except ValueError as exc:
        raise SandboxUsageError(f"--host: {exc} (the sandbox never listens beyond loopback)") from None


_PORT = click.IntRange(0, 65535)


@click.group()
def sandbox() -> None:
    """Run the simulated panel world (proxy, DNS, RDAP) on loopback."""


@sandbox.command()
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated world.")
@click.option("--sites", type=click.IntRange(min=1), help="Number of panel sites (default: the generator's).")
@click.option(
    "--host", default="127.0.0.1", show_default=True, callback=_loopback_host,
    help="Address in 127.0.0.0/8 to listen on.",
)
@click.option("--proxy-port", type=_PORT, default=0, show_default=True, help="HTTP(S) proxy port (0: any free port).")
@click.option("--dns-port", type=_PORT, default=0, show_default=True, help="DNS port, UDP and TCP (0: any free port).")
@click.option("--rdap-port", type=_PORT, default=0, show_default=True, help="RDAP port (0: any free port).")
@click.option(
    "--workdir", type=click.Path(file_okay=False, path_type=Path),
    help="Where the CA bundle and ground truth go (default: a temporary directory removed at exit).",
)
def serve(
    seed: int, sites: int | None, host: str, proxy_port: int, dns_port: int, rdap_port: int, workdir: Path | None
) -> None:
    """Generate a world and serve it until Ctrl-C or SIGTERM."""
    from panelmap.sandbox.generate import generate_world

    try:
        world = generate_world(seed=seed) if sites is None else generate_world(seed=seed, sites=sites)
    except ValueError as exc:  # e.g. fewer sites than the world's fixed cast
        raise SandboxUsageError(str(exc)) from None
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="panelmap-sandbox-")))
        box = Sandbox(world, workdir, host=host, proxy_port=proxy_port, dns_port=dns_port, rdap_port=rdap_port)
        try:
            box.start()
        except OSError as exc:
            raise SandboxUsageError(f"cannot listen on {host}: {exc}") from None
        click.echo(_banner(box, world))
        box.serve_forever()
    click.echo("sandbox stopped")


def _banner(box: Sandbox, world: World) -> str:
    dns_host, dns_port = box.dns_address
    example_host = next((host for host in sorted(world.certificates) if host in world.sites), None)
    example_address = next(
        (address for _name, records in sorted(world.dns.records.items()) for address in records.get("A", [])), None
    )
    lines = [
        f"panelmap sandbox: seed {world.seed}, {len(world.sites)} hosts, {len(world.networks)} networks",
        f"  proxy         {box.proxy_url}   (http and CONNECT for https)",
        f"  dns           {dns_host}:{dns_port}   (udp and tcp)",
        f"  rdap          {box.rdap_url}",
        f"  CA bundle     {box.ca_bundle}",
        f"  ground truth  {box.ground_truth_path}",
        "try:",
    ]
    if example_host:
        lines += [
            f"  dig @{dns_host} -p {dns_port} {example_host} A",
            f"  curl --proxy {box.proxy_url} --cacert {box.ca_bundle} https://{example_host}/",
        ]
    if example_address:
        reversed_ip = ".".join(reversed(example_address.split(".")))
        lines += [
            f"  dig @{dns_host} -p {dns_port} +short TXT {reversed_ip}.origin.asn.cymru.com",
            f"  curl {box.rdap_url}/ip/{example_address}",
        ]
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines)
