"""The `supil` command line: run an essay job, start or check the services."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import grpc
import typer
from rich.console import Console
from rich.table import Table

from supil import __version__
from supil.client import error_text, health_status, list_services, open_channel
from supil.local import SERVICE_NAMES, LocalServices, StartError
from supil.orchestrator import StageError, plan_sections, run_essay
from supil.spec import EssaySpec, SpecError, check_address, load_spec
from supil.v1 import jobs_pb2

app = typer.Typer(
    help="supil (수필): write a long Korean essay from a theme and a few sub-topics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
services_app = typer.Typer(
    help="Start the five services locally, or check services anywhere.", no_args_is_help=True
)
app.add_typer(services_app, name="services")

console = Console()
err_console = Console(stderr=True)

WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", envvar="SUPIL_WORKSPACE", help="artifact workspace folder")
]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _version(value: bool) -> None:
    if value:
        console.print(f"supil {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log what the client does")] = False,
) -> None:
    """supil (수필): write a long Korean essay from a theme and a few sub-topics."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def parse_remote(value: str, named: bool) -> dict[str, str]:
    """`name=host:port,...` (or, unless named is required, plain `host:port,...`) into a mapping."""
    result: dict[str, str] = {}
    for i, item in enumerate(part.strip() for part in value.split(",") if part.strip()):
        name, sep, address = item.partition("=")
        if not sep:
            if named:
                raise typer.BadParameter(
                    f"{item!r}: write service=host:port (services: {', '.join(SERVICE_NAMES)})"
                )
            name, address = f"#{i + 1}", item
        elif name not in SERVICE_NAMES:
            raise typer.BadParameter(f"{name!r} is not a service; one of {', '.join(SERVICE_NAMES)}")
        try:
            check_address(address)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        result[name] = address
    if not result:
        raise typer.BadParameter("no addresses given")
    return result


def _health_table(addresses: dict[str, str], token: str | None, title: str) -> tuple[Table, bool]:
    table = Table(title=title)
    for column in ("service", "address", "health", "gRPC services (reflection)"):
        table.add_column(column)
    all_ok = True
    for name, address in addresses.items():
        channel = open_channel(address, token)
        try:
            status = health_status(channel)
            try:
                served = ", ".join(
                    s.removeprefix("supil.v1.") for s in list_services(channel) if s.startswith("supil.v1.")
                )
            except grpc.RpcError as exc:
                served = f"[red]{exc.code().name}[/red]"
        finally:
            channel.close()
        ok = status == "SERVING"
        all_ok &= ok
        table.add_row(name, address, f"[green]{status}[/green]" if ok else f"[red]{status}[/red]", served)
    return table, all_ok


@services_app.command("up")
def services_up(
    names: Annotated[
        list[str] | None,
        typer.Argument(help=f"services to start (default: all of {', '.join(SERVICE_NAMES)})"),
    ] = None,
    workspace: WorkspaceOption = Path("supil-work"),
    check: Annotated[
        bool, typer.Option("--check", help="start, show the health table, then stop at once")
    ] = False,
    docker: Annotated[
        bool,
        typer.Option(
            "--docker",
            help="run the service images and Elasticsearch through the Docker Engine API "
            "(settings as in deploy/.env.example; see deploy/README.md)",
        ),
    ] = False,
) -> None:
    """Start the services as child processes on free ports, wait for health, stop them on Ctrl-C."""
    token = os.environ.get("SUPIL_TOKEN") or None
    if docker:
        from supil import docker_services

        def show_health(addresses: dict[str, str]) -> bool:
            table, ok = _health_table(addresses, token, "supil services (docker)")
            console.print(table)
            return ok

        stop_docker = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop_docker.set())
        code = docker_services.services_up(
            tuple(names or SERVICE_NAMES),
            check=check,
            console=console,
            err_console=err_console,
            show_health=show_health,
            stop_requested=stop_docker.wait,
        )
        raise typer.Exit(code)
    local = LocalServices(names=tuple(names or SERVICE_NAMES), workspace=workspace, token=token)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with console.status("starting services..."):
            addresses = local.start()
    except StartError as exc:
        err_console.print(f"[red]could not start services:[/red] {exc}")
        raise typer.Exit(1) from None
    try:
        table, ok = _health_table(addresses, token, f"supil services (workspace {workspace})")
        console.print(table)
        if not check:
            console.print("Press Ctrl-C to stop them. Logs: " + str(workspace / ".supil" / "logs"))
            while not stop.wait(0.5):
                dead = [n for n, s in local.running.items() if s.process.poll() is not None]
                if dead:
                    err_console.print(f"[red]service(s) exited:[/red] {', '.join(dead)}")
                    ok = False
                    break
    finally:
        codes = local.stop()
        console.print("stopped: " + ", ".join(f"{n} (exit {c})" for n, c in codes.items()))
    if not ok:
        raise typer.Exit(1)


@services_app.command("status")
def services_status(
    remote: Annotated[str, typer.Option("--remote", help="host:port,... or name=host:port,...")],
) -> None:
    """Health and served APIs of running services; exits 1 if any is not SERVING."""
    addresses = parse_remote(remote, named=False)
    table, ok = _health_table(addresses, os.environ.get("SUPIL_TOKEN") or None, "supil services")
    console.print(table)
    if not ok:
        raise typer.Exit(1)


def _load_or_exit(spec_path: Path) -> EssaySpec:
    try:
        return load_spec(spec_path)
    except SpecError as exc:
        err_console.print(f"[red]invalid spec[/red] {exc.source} ({len(exc.problems)} problem(s)):")
        for path, reason in exc.problems:
            err_console.print(f"  [bold]{path}[/bold]: {reason}", markup=True, highlight=False)
        raise typer.Exit(2) from None


def _print_plan(spec: EssaySpec) -> None:
    table = Table(
        title=f"{spec.essay.title} — theme {spec.essay.theme!r}, {spec.essay.target_chars:,} characters"
    )
    for column in ("#", "section", "query", "writer", "target chars"):
        table.add_column(column)
    for section in plan_sections(spec):
        table.add_row(
            str(section.index + 1), section.title, section.query, section.writer, f"{section.target_chars:,}"
        )
    console.print(table)
    sites = ", ".join(s.name for s in spec.crawl.sites) or "(none)"
    console.print(f"crawl sites: {sites}; model: {spec.model.base}; seed {spec.generate.seed}")


def _addresses(spec: EssaySpec, remote: str | None) -> dict[str, str] | None:
    """Remote addresses from --remote, then the environment, then the spec; None means run locally."""
    found = {n: a for n, a in spec.services.model_dump().items() if a}
    for name in SERVICE_NAMES:
        if value := os.environ.get(f"SUPIL_{name.upper()}_ADDR"):
            found[name] = value
    if remote:
        found.update(parse_remote(remote, named=True))
    if not found:
        return None
    missing = [n for n in SERVICE_NAMES if n not in found]
    if missing:
        err_console.print(f"[red]remote addresses missing for:[/red] {', '.join(missing)} (give all five)")
        raise typer.Exit(2)
    return found


@app.command()
def run(
    spec_path: Annotated[
        Path, typer.Argument(metavar="SPEC", help="essay spec (TOML), e.g. examples/demo.toml")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="validate the spec and show the plan; start nothing")
    ] = False,
    remote: Annotated[
        str | None, typer.Option("--remote", help="name=host:port,... of running services")
    ] = None,
    workspace: WorkspaceOption = Path("supil-work"),
) -> None:
    """Run the whole essay job described by SPEC (a bad spec exits 2 before anything starts)."""
    spec = _load_or_exit(spec_path)
    _print_plan(spec)
    if dry_run:
        console.print("[green]spec is valid[/green] (dry run: nothing started)")
        return
    token = os.environ.get("SUPIL_TOKEN") or None
    addresses = _addresses(spec, remote)
    local = None
    try:
        if addresses is None:
            local = LocalServices(workspace=workspace, token=token)
            with console.status("starting services..."):
                addresses = local.start()
        run_essay(spec, addresses, token, on_event=_print_event)
    except StartError as exc:
        err_console.print(f"[red]could not start services:[/red] {exc}")
        raise typer.Exit(1) from None
    except StageError as exc:
        err_console.print(f"[red]stopped at stage {exc.stage}:[/red] {exc.cause}")
        if exc.advice:
            err_console.print(f"  {exc.advice}")
        raise typer.Exit(1) from None
    finally:
        if local is not None:
            local.stop()


def _print_event(stage: str, event: jobs_pb2.JobEvent) -> None:
    if event.message:
        console.print(f"[dim]{stage}[/dim] {event.message}", highlight=False)


@app.command()
def demo(workspace: WorkspaceOption = Path("supil-work/demo")) -> None:
    """What `make demo` runs. Today: start the five services, show them healthy, validate and plan
    examples/demo.toml, and say which pipeline stages are still to be built."""
    spec = _load_or_exit(EXAMPLES / "demo.toml")
    local = LocalServices(workspace=workspace)
    try:
        with console.status("starting the five services..."):
            addresses = local.start()
        table, ok = _health_table(addresses, None, "supil services")
        console.print(table)
        _print_plan(spec)
        from services.crawler.demo_site import DEFAULT_PORT, start_demo_site

        try:
            site = start_demo_site(DEFAULT_PORT)  # the spec's crawl starts at 127.0.0.1:8765
        except OSError as exc:
            err_console.print(f"[red]could not serve the demo site on port {DEFAULT_PORT}:[/red] {exc}")
            raise typer.Exit(1) from None
        console.print(f"demo site: {site.url} ({len(site.site.posts)} essays)")
        try:
            run_essay(spec, addresses, on_event=_print_event)
        except StageError as exc:
            console.print(
                f"[yellow]pipeline today:[/yellow] stops at stage {exc.stage}: {exc.cause}", highlight=False
            )
        finally:
            site.stop()
    except StartError as exc:
        err_console.print(f"[red]could not start services:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        local.stop()
    if not ok:
        raise typer.Exit(1)
    console.print(
        "[green]demo done:[/green] services healthy, spec valid. The essay itself arrives with the pipeline issues."
    )


@app.command("demo-site")
def demo_site(
    port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1 (0 picks a free one)")] = 8765,
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="publish this corpus JSON Lines file (.jsonl or .jsonl.zst) instead"),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="address to bind")] = "127.0.0.1",
) -> None:
    """Serve the bundled demo site of original Korean essays (or a corpus as such a site) until Ctrl-C."""
    from services.crawler.demo_site import start_demo_site

    try:
        site = start_demo_site(port, host=host, corpus=corpus)
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]could not start the demo site:[/red] {exc}")
        raise typer.Exit(1) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"demo site: {site.url} ({len(site.site.posts)} posts); start URL {site.start_url}")
    console.print("Press Ctrl-C to stop.")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        site.stop()


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="the sub-topic query, e.g. '희망과 함께'")],
    index: Annotated[str, typer.Option("--index", "-i", help="index name")] = "corpus",
    k: Annotated[int, typer.Option("-k", help="hits to show")] = 10,
    theme: Annotated[str, typer.Option("--theme", help="word every hit must contain")] = "",
    rm3: Annotated[bool, typer.Option("--rm3", help="expand the query from the top hits (RM3)")] = False,
    address: Annotated[
        str | None,
        typer.Option(
            "--address", envvar="SUPIL_RETRIEVER_ADDRESS", help="retriever host:port (else in-process)"
        ),
    ] = None,
    workspace: WorkspaceOption = Path("supil-work"),
) -> None:
    """Print an index's hits for a query with highlighted snippets (quick checks before committing to queries)."""
    from supil.v1 import retriever_pb2, retriever_pb2_grpc

    if k <= 0:  # on the wire 0 means "the default", so refuse it here
        err_console.print(f"[red]search failed:[/red] k must be positive, got {k}", highlight=False)
        raise typer.Exit(1)
    request = retriever_pb2.SearchRequest(
        index=index, query=query, k=k, options=retriever_pb2.QueryOptions(theme=theme, rm3=rm3)
    )
    if address:
        channel = open_channel(address, os.environ.get("SUPIL_TOKEN") or None)
        try:
            response = retriever_pb2_grpc.RetrieverServiceStub(channel).Search(request, timeout=60)
        except grpc.RpcError as exc:
            err_console.print(f"[red]search failed:[/red] {error_text(exc)}", highlight=False)
            raise typer.Exit(1) from None
        finally:
            channel.close()
    else:
        from services.retriever.local import search_in_workspace
        from services.runtime import SupilError

        try:
            response = search_in_workspace(workspace, request)
        except SupilError as exc:
            err_console.print(f"[red]search failed:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None
    console.print(
        f"{len(response.hits)} of {response.total_hits} matching documents in {index!r}", highlight=False
    )
    for rank, hit in enumerate(response.hits, start=1):
        title = hit.title or hit.id
        console.print(
            f"[bold]{rank}. {title}[/bold]  [dim]{hit.id} · {hit.source} · {hit.score:.3f}[/dim]",
            highlight=False,
        )
        console.print("   " + hit.snippet.replace("«", "[yellow]").replace("»", "[/yellow]"), highlight=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
