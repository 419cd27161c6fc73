"""The `supil` command line: run an essay job, start or check the services."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import grpc
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from supil import __version__
from supil.client import error_text, health_status, list_services, open_channel
from supil.local import SERVICE_NAMES, LocalServices, StartError
from supil.orchestrator import GROUPS, EssayJob, Reporter, StageError, plan_sections
from supil.progress import JsonReporter, RichReporter
from supil.spec import EssaySpec, SpecError, check_address, load_spec

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
        err_console.print(f"[red]could not start services:[/red] {escape(str(exc))}")
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
            err_console.print(f"  [bold]{path}[/bold]: {escape(reason)}", markup=True, highlight=False)
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


class OutputMode(StrEnum):
    """How `supil run` shows progress."""

    rich = "rich"
    json = "json"
    quiet = "quiet"


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
    from_stage: Annotated[
        str | None, typer.Option("--from", help=f"redo from this stage on: {', '.join(GROUPS)}")
    ] = None,
    output: Annotated[
        OutputMode, typer.Option("--output", "-o", help="rich progress bars, JSON lines, or quiet")
    ] = OutputMode.rich,
    verbose: Annotated[bool, typer.Option("--verbose", help="show every job event message")] = False,
    workspace: WorkspaceOption = Path("supil-work"),
) -> None:
    """Run the whole essay job described by SPEC; rerunning skips every stage that is already done.

    A bad spec exits 2 before anything starts. Ctrl-C cancels the running job; run the same command
    again to resume.
    """
    spec = _load_or_exit(spec_path)
    if from_stage is not None and from_stage not in GROUPS:
        err_console.print(f"[red]--from {from_stage!r}:[/red] not a stage; one of {', '.join(GROUPS)}")
        raise typer.Exit(2)
    if output == OutputMode.rich:
        _print_plan(spec)
    if dry_run:
        console.print("[green]spec is valid[/green] (dry run: nothing started)")
        return
    essay_path = _run_job(spec, spec_path, remote, from_stage, output, verbose, workspace)
    _print_summary(spec, essay_path, output)


def _run_job(
    spec: EssaySpec,
    spec_path: Path,
    remote: str | None,
    from_stage: str | None,
    output: OutputMode,
    verbose: bool,
    workspace: Path,
) -> Path:
    token = os.environ.get("SUPIL_TOKEN") or None
    addresses = _addresses(spec, remote)
    local = None
    job: EssayJob | None = None
    reporter = _reporter(output, verbose)
    try:
        if addresses is None:
            local = LocalServices(workspace=workspace, token=token)
            if output == OutputMode.rich:
                with console.status("starting services..."):
                    addresses = local.start()
            else:
                addresses = local.start()
        else:
            _check_remote(addresses, token)
        job = EssayJob(spec, addresses, workspace, token, reporter)
        job.save_spec(spec_path.read_text(encoding="utf-8"))
        with reporter if isinstance(reporter, RichReporter) else contextlib.nullcontext():
            return job.run(from_stage)
    except KeyboardInterrupt:
        cancelled = job.cancel_running() if job is not None else None
        err_console.print(
            f"[yellow]interrupted[/yellow]{f'; cancelled job {cancelled}' if cancelled else ''}. "
            f"Nothing finished is lost: run `supil run {spec_path}` again to resume."
        )
        raise typer.Exit(130) from None
    except StartError as exc:
        err_console.print(f"[red]could not start services:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except StageError as exc:
        _exit_stage_error(exc)
    finally:
        if local is not None:
            local.stop()


def _exit_stage_error(exc: StageError, stopped: bool = True) -> None:
    """Say which stage stopped, why, and what to change; exit 1."""
    label = f"stopped at stage {exc.stage}" if stopped else exc.stage
    err_console.print(f"[red]{label}:[/red] {escape(exc.cause)}", highlight=False)
    if exc.advice:
        err_console.print(f"  what to change: {escape(exc.advice)}", highlight=False)
    raise typer.Exit(1) from None


def _reporter(output: OutputMode, verbose: bool) -> Reporter:
    if output == OutputMode.json:
        return JsonReporter()
    if output == OutputMode.quiet:
        return Reporter()
    return RichReporter(console, verbose)


def _check_remote(addresses: dict[str, str], token: str | None) -> None:
    """Fail fast, naming the address, when a remote service does not answer its health check."""
    for name, address in addresses.items():
        channel = open_channel(address, token)
        try:
            status = health_status(channel, timeout=5.0)
        finally:
            channel.close()
        if status != "SERVING":
            err_console.print(f"[red]{name} at {address} is not reachable or not serving ({status})[/red]")
            raise typer.Exit(1)


def _print_summary(spec: EssaySpec, essay_path: Path, output: OutputMode) -> None:
    """Where the essay is, how long it came out against its targets, per section."""
    sections = essay_sections(essay_path.read_text(encoding="utf-8"))
    chars = sum(body_chars(text) for _, text in sections)
    if output == OutputMode.json:
        summary = {
            "event": "essay",
            "path": str(essay_path),
            "chars": chars,
            "target_chars": spec.essay.target_chars,
        }
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
        return
    if output == OutputMode.quiet:
        console.print(str(essay_path))
        return
    table = Table(
        title=f"{spec.essay.title}: {chars:,} characters for {spec.essay.target_chars:,} "
        f"({(chars - spec.essay.target_chars) / spec.essay.target_chars:+.1%})"
    )
    for column in ("#", "section", "paragraphs", "characters", "target"):
        table.add_column(column)
    for (title, text), plan in zip(sections, plan_sections(spec), strict=False):
        paragraphs = [p for p in text.split("\n") if p.strip()]
        table.add_row(
            str(plan.index + 1),
            title,
            str(len(paragraphs)),
            f"{body_chars(text):,}",
            f"{plan.target_chars:,}",
        )
    console.print(table)
    console.print(
        f"[green]essay:[/green] {essay_path}\n[green]report:[/green] {essay_path.parent / 'report.html'}"
    )


def essay_sections(essay: str) -> list[tuple[str, str]]:
    """(heading, body) of each `## ` section of an essay.md."""
    parts = re.split(r"^## (.+)$", essay, flags=re.M)
    return [(parts[i].strip(), parts[i + 1].strip()) for i in range(1, len(parts), 2)]


def body_chars(text: str) -> int:
    """Body characters as the spec counts them: spaces included, line breaks and headings not."""
    return sum(len(line) for line in text.split("\n") if line.strip())


@app.command()
def demo(
    workspace: WorkspaceOption = Path("supil-work/demo"),
    output: Annotated[
        OutputMode, typer.Option("--output", "-o", help="rich progress bars, JSON lines, or quiet")
    ] = OutputMode.rich,
) -> None:
    """What `make demo` runs: serve the bundled demo site on 127.0.0.1, run examples/demo.toml with the
    `tiny` model fully offline, and print the essay's path, length and a short summary."""
    from services.crawler.demo_site import start_demo_site

    spec_path = EXAMPLES / "demo.toml"
    spec = _load_or_exit(spec_path)
    wanted = urlsplit(spec.crawl.sites[0].start_urls[0])
    try:
        site = start_demo_site(wanted.port or 80)
    except OSError:
        site = start_demo_site(0)  # the usual port is taken: serve elsewhere and point the crawl there
    try:
        for profile in spec.crawl.sites:
            profile.start_urls = [
                urlunsplit(u._replace(netloc=f"127.0.0.1:{site.port}"))
                for u in map(urlsplit, profile.start_urls)
            ]
        if output == OutputMode.rich:
            console.print(f"demo site: {site.url}")
            _print_plan(spec)
        essay_path = _run_job(spec, spec_path, None, None, output, False, workspace)
    finally:
        site.stop()
    _print_summary(spec, essay_path, output)
    if output == OutputMode.rich:
        text = essay_path.read_text(encoding="utf-8")
        console.print(text[: text.find("\n\n", 400) + 1 if len(text) > 400 else len(text)], highlight=False)


def _essay_job(
    name: str, workspace: Path, output: OutputMode = OutputMode.rich
) -> tuple[EssayJob, EssaySpec]:
    """The essay job called NAME in the workspace, rebuilt from the spec saved by `supil run`."""
    spec_file = workspace / "jobs" / name / "spec.toml"
    if not spec_file.exists():
        err_console.print(f"[red]no essay job {name!r} in {workspace}[/red] (run `supil run SPEC` first)")
        raise typer.Exit(2)
    spec = _load_or_exit(spec_file)
    return EssayJob(spec, {}, workspace, reporter=_reporter(output, False)), spec


@app.command()
def regenerate(
    name: Annotated[str, typer.Argument(help="the essay's [essay] name")],
    section: Annotated[int, typer.Option("--section", "-s", help="section number (1 = first)", min=1)],
    seed: Annotated[int | None, typer.Option("--seed", help="sampling seed (default: a new one)")] = None,
    remote: Annotated[
        str | None, typer.Option("--remote", help="generator=host:port,retriever=host:port")
    ] = None,
    workspace: WorkspaceOption = Path("supil-work"),
) -> None:
    """Redraw one section with another seed; every other section stays as it is."""
    job, _ = _essay_job(name, workspace)
    seed = seed if seed is not None else secrets.randbelow(2**31)
    token = os.environ.get("SUPIL_TOKEN") or None
    local = None
    try:
        if remote:
            job.addresses = parse_remote(remote, named=True)
        else:
            local = LocalServices(names=("retriever", "generator"), workspace=workspace, token=token)
            with console.status("starting the generator..."):
                job.addresses = local.start()
        job.token = token
        path = job.regenerate(section - 1, seed)
    except StartError as exc:
        err_console.print(f"[red]could not start services:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except StageError as exc:
        _exit_stage_error(exc, stopped=False)
    finally:
        job.close()
        if local is not None:
            local.stop()
    console.print(f"section {section} redrawn with seed {seed}; essay re-assembled: {path}")


@app.command()
def essay(
    name: Annotated[str, typer.Argument(help="the essay's [essay] name")],
    workspace: WorkspaceOption = Path("supil-work"),
) -> None:
    """Re-assemble essay.md and report.html from the drafts (after `supil regenerate` or edits)."""
    job, _ = _essay_job(name, workspace)
    local = LocalServices(
        names=("retriever",), workspace=workspace
    )  # measures topic relevance for the report
    try:
        job.addresses = local.start()
        path = job.assemble()
    except StartError as exc:
        err_console.print(f"[red]could not start the retriever:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except StageError as exc:
        _exit_stage_error(exc, stopped=False)
    finally:
        job.close()
        local.stop()
    console.print(f"{path} ({job.manifest.essay_chars:,} characters)")


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
        err_console.print(f"[red]could not start the demo site:[/red] {escape(str(exc))}")
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
            err_console.print(f"[red]search failed:[/red] {escape(error_text(exc))}", highlight=False)
            raise typer.Exit(1) from None
        finally:
            channel.close()
    else:
        from services.retriever.local import search_in_workspace
        from services.runtime import SupilError

        try:
            response = search_in_workspace(workspace, request)
        except SupilError as exc:
            err_console.print(f"[red]search failed:[/red] {escape(str(exc))}", highlight=False)
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
