"""The `roadworks` command: serve | worker | tokens | import | export."""

from __future__ import annotations

import json
import os
import sys

import click

from . import create_app
from .auth import Actor, create_token
from .config import parse_at
from .domain.errors import DomainError, ValidationFailed

CLI_ACTOR = Actor(name="command line", role="admin")


def _replay_instant(_context, parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            parse_at(value, "--at")
        except ValidationFailed as failure:
            raise click.BadParameter("; ".join(failure.errors["--at"]), param=parameter) from None
    return value


@click.group()
def main() -> None:
    """Roadworks: road-construction and traffic-closure notices."""


@main.command()
@click.option("--demo", is_flag=True, help="Load the Dongguan Street founding case into an empty database.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--at", default=None, callback=_replay_instant, metavar="INSTANT",
              help="Replay: run as of this instant (2024-05-20T12:00+08:00), the clock moving on at real speed; "
                   "default ROADWORKS_AT, else now.")
@click.option("--push/--no-push", default=True, show_default=True,
              help="Deliver partner push in this process (else run `roadworks worker`).")
def serve(demo: bool, host: str, port: int, threads: int, at: str | None, push: bool) -> None:
    """Run the service under waitress, a production WSGI server.

    Absolute URLs in answers start with ROADWORKS_PUBLIC_URL; unset, with http://HOST:PORT/.
    With ROADWORKS_TRUSTED_PROXIES=N, waitress takes the client's address from the last N X-Forwarded-For entries.
    """
    from waitress import serve as waitress_serve

    from .api.server_name import SERVER_NAME
    from .demo import load_demo
    from .observability import log_server

    public_url = os.environ.get("ROADWORKS_PUBLIC_URL") or served_url(host, port)
    try:
        app = create_app({"PUBLIC_URL": public_url, **({"AT": at} if at else {})})
    except ValidationFailed as failure:
        raise click.UsageError(str(failure)) from None
    if demo:
        loaded = load_demo(app.extensions["roadworks"].registry)
        app.extensions["roadworks"].index.rebuild()
        click.echo("demo data loaded" if loaded else "database not empty: demo data not loaded")
    _erase_contacts_now_and_then(app)
    click.echo(f"Roadworks on http://{_url_host(host)}:{port}/, public URL {public_url}  "
               "(map /map/, API /api/v1/, docs /docs)")
    log_server("waitress")
    worker = None
    if push:  # the embedded default: partner push delivered by this process
        from .push.worker import for_services

        worker = for_services(app.extensions["roadworks"]).start()
    try:
        # ident: the Server header names the service, not waitress (roadworks/api/server_name.py)
        waitress_serve(app, host=host, port=port, threads=threads, ident=SERVER_NAME,
                       **proxy_settings(app.extensions["roadworks"].settings))
    finally:
        if worker is not None:
            worker.stop()


def proxy_settings(settings) -> dict:
    """waitress's own proxy handling from ROADWORKS_TRUSTED_PROXIES: without it waitress drops X-Forwarded-For
    before the app (and its ProxyFix) could see it, and everyone behind a proxy would share one rate budget."""
    proxies = int(settings.get("TRUSTED_PROXIES") or 0)
    if proxies <= 0:
        return {}
    # "*": any peer, as ProxyFix counts hops without knowing their addresses; the count bounds what is trusted.
    return {"trusted_proxy": "*", "trusted_proxy_count": proxies,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"}}


def _erase_contacts_now_and_then(app) -> None:
    from .reports import start_eraser

    found = app.extensions["roadworks"]
    start_eraser(found.reports, found.clock, float(found.settings["REPORT_ERASE_EVERY_S"]))


@main.command()
@click.option("--metrics-port", default=0, type=int, help="Serve this worker's Prometheus metrics on this port.")
def worker(metrics_port: int) -> None:
    """Deliver partner push (webhooks) and announce status changes; run as many as you like, on any hosts."""
    import signal
    import threading

    from .push.metrics import REGISTRY
    from .push.worker import for_services

    services = create_app().extensions["roadworks"]
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, registry=REGISTRY)
    running = for_services(services).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    click.echo(f"push worker {running.owner} delivering", err=True)
    done.wait()
    running.stop()


def served_url(host: str, port: int) -> str:
    """The URL clients reach `serve --host H --port P` at; a wildcard address is reached as localhost."""
    name = "localhost" if host in ("0.0.0.0", "::", "") else _url_host(host)
    return f"http://{name}:{port}/"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _services():
    """The app's services for a command; a bad ROADWORKS_* setting (ROADWORKS_AT among them) is a usage error."""
    try:
        return create_app().extensions["roadworks"]
    except ValidationFailed as failure:
        raise click.UsageError(str(failure)) from None


@main.group()
def tokens() -> None:
    """Create, list and revoke API tokens."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(["editor", "admin", "partner"]))
@click.option("--name", required=True, help="Shown in history as the author of changes.")
@click.option("--agency", default=None, help="Required for editors: the only agency they may write for.")
def tokens_create(role: str, name: str, agency: str | None) -> None:
    """Mint a token and print it once; only its hash is stored."""
    services = _services()
    try:
        plain, token = create_token(services.store, role=role, name=name, agency=agency, now=services.clock())
    except ValidationFailed as failure:
        raise click.UsageError(str(failure)) from None
    click.echo(plain)
    click.echo(f"token {token.id} ({role}{', ' + agency if agency else ''}): store it now, it is not shown again",
               err=True)


@tokens.command("list")
def tokens_list() -> None:
    """List tokens (never their secrets)."""
    for token in _services().store.tokens():
        state = f"revoked {token.revoked_at.isoformat()}" if token.revoked_at else "active"
        click.echo(f"{token.id}\t{token.role}\t{token.agency or '-'}\t{token.name}\t{state}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token by its number; it stops working at once."""
    services = _services()
    if not services.store.revoke_token(token_id, services.clock()):
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


@main.command("import")
@click.argument("source", type=click.File("rb"))
def import_file(source) -> None:
    """Import a GeoJSON FeatureCollection of closures, all or nothing."""
    from .api.bodies import load_features

    registry = _services().registry
    try:
        saved = registry.import_features(load_features(json.load(source)), CLI_ACTOR)
    except ValueError as error:
        raise click.ClickException(f"not JSON: {error}") from None
    except ValidationFailed as failure:
        for path, messages in failure.errors.items():
            click.echo(f"{path}: {'; '.join(messages)}", err=True)
        raise click.ClickException("nothing imported") from None
    except DomainError as error:
        raise click.ClickException(f"nothing imported: {error}") from None
    click.echo(f"imported {len(saved)} closures")


@main.command()
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
def export(output) -> None:
    """Write every closure (drafts included) as a GeoJSON FeatureCollection."""
    from .documents import closure_doc

    registry = _services().registry
    features = [closure_doc(v.closure) for v in registry.closures(CLI_ACTOR)]
    json.dump({"type": "FeatureCollection", "features": features}, output, ensure_ascii=False, indent=1)
    output.write("\n")


@main.group("reports")
def reports_group() -> None:
    """Residents' reports."""


@reports_group.command("erase-contacts")
def reports_erase_contacts() -> None:
    """Erase the contact of every report resolved or rejected 180 days ago or more (serve does it hourly)."""
    from .reports import erase_contacts

    found = create_app().extensions["roadworks"]
    erased = erase_contacts(found.reports, found.clock())
    click.echo(f"erased the contact of {len(erased)} reports")


if __name__ == "__main__":
    sys.exit(main())
