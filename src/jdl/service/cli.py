"""``jdl serve``, ``jdl worker`` and ``jdl admin create-org`` / ``create-user``.

Heavy imports (FastAPI, SQLAlchemy, uvicorn) happen inside the commands so ``jdl --help`` stays
fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

admin_app = typer.Typer(help="Service administration: organisations and users.",
                        no_args_is_help=True)


def _sessions():
    from jdl.core.config import get_settings
    from jdl.service._db import open_database

    return open_database(get_settings().service.database_url)


@admin_app.callback()
def _admin_files_owner_only() -> None:
    """Service administration writes into the service's storage (the catalogue's PDFs, re-keyed
    files): owner-only, like ``jdl serve`` and ``jdl worker``."""
    from jdl.service._storage import owner_only_files

    owner_only_files()


@admin_app.command("create-org")
def create_org(name: Annotated[str, typer.Argument(help="The organisation's name.")]) -> None:
    """Create an organisation."""
    from jdl.service._accounts import create_org as create

    with _sessions()() as db:
        org = create(db, name)
        typer.echo(f"Created organisation {org.name!r} (id {org.id}).")


@admin_app.command("create-user")
def create_user(
    org: Annotated[str, typer.Option("--org", help="Organisation name.")],
    role: Annotated[str, typer.Option("--role", help="submitter, analyst, reviewer or admin.")],
    email: Annotated[str, typer.Option("--email", help="The user's email address.")],
) -> None:
    """Create a user; prints a one-time password and an API token (shown only once). Analyst,
    reviewer and admin accounts exist only in the lab's own organisation
    (JDL_SERVICE__LAB_ORGANISATION)."""
    from jdl.core.config import get_settings
    from jdl.service._accounts import create_user as create

    with _sessions()() as db:
        user = create(db, org, role, email,
                      lab_organisation=get_settings().service.lab_organisation)
    typer.echo(f"Created {user.role} {user.email} in {user.organisation!r} (id {user.user_id}).")
    typer.echo(f"One-time password: {user.password}")
    typer.echo(f"API token: {user.token}")
    typer.echo("Both are shown only now; the lab stores only their hashes.")


@admin_app.command("deactivate-user")
def deactivate_user(
    email: Annotated[str, typer.Option("--email", help="The user's email address.")],
    reactivate: Annotated[bool, typer.Option("--reactivate",
                                             help="Let the user in again.")] = False,
) -> None:
    """Stop a user signing in or using their API token, ending every session and the token at
    once (or let them in again; an admin then issues a new token)."""
    from jdl.core.config import get_settings
    from jdl.service._accounts import find_user, set_active

    with _sessions()() as db:
        user = find_user(db, email)
        set_active(db, user, reactivate,
                   lab_organisation=get_settings().service.lab_organisation)
        typer.echo(f"{user.email} is now {'active' if reactivate else 'deactivated'}.")


@admin_app.command("set-role")
def set_role_command(
    email: Annotated[str, typer.Option("--email", help="The user's email address.")],
    role: Annotated[str, typer.Option("--role", help="submitter, analyst, reviewer or admin.")],
) -> None:
    """Change a user's role (lab roles only in the lab's organisation); their sessions end."""
    from jdl.core.config import get_settings
    from jdl.service._accounts import find_user, set_role

    with _sessions()() as db:
        user = find_user(db, email)
        set_role(db, user, role, lab_organisation=get_settings().service.lab_organisation)
        typer.echo(f"{user.email} is now {user.role}.")


@admin_app.command("new-credentials")
def new_credentials_command(
    email: Annotated[str, typer.Option("--email", help="The user's email address.")],
    password: Annotated[bool, typer.Option("--password/--no-password",
                                           help="Issue a new one-time password.")] = False,
    token: Annotated[bool, typer.Option("--token/--no-token",
                                        help="Issue a new API token.")] = True,
) -> None:
    """Replace a user's API token (default) and/or password; the old ones stop working. A new
    password also ends every session and comes with a new token."""
    from jdl.service._accounts import find_user, new_credentials

    with _sessions()() as db:
        user = find_user(db, email)
        new_pw, new_tok = new_credentials(db, user, password=password, token=token)
    if new_pw:
        typer.echo(f"One-time password: {new_pw}")
    if new_tok:
        typer.echo(f"API token: {new_tok}")
    typer.echo("Shown only now; the lab stores only their hashes.")


@admin_app.command("rotate-key")
def rotate_key_command() -> None:
    """Re-encrypt every stored upload, checkpoint and lab-internal file under a new key.

    With the key file (the default), a new key replaces the old one in the file. With the key in
    JDL_SERVICE__ENCRYPTION_KEY, first set the new key there and the old one in
    JDL_SERVICE__ENCRYPTION_PREVIOUS_KEYS (a JSON list). Stop the service and workers first.
    """
    from jdl.core.config import get_settings
    from jdl.service._crypto import rotate_key
    from jdl.service._models import AuditEntry

    settings = get_settings()
    count = rotate_key(settings.service, Path(settings.service.storage_dir))
    with _sessions()() as db:
        db.add(AuditEntry(action="admin.rotate_key", outcome="allowed",
                          detail=f"{count} file(s) re-encrypted", client="jdl admin"))
        db.commit()
    typer.echo(f"Re-encrypted {count} file(s) under the new key.")


@admin_app.command("purge")
def purge() -> None:
    """Delete uploads whose retention period has ended (workers also do this when idle)."""
    from jdl.core.config import get_settings
    from jdl.service._retention import purge_expired

    count = purge_expired(_sessions(), get_settings())
    typer.echo(f"Deleted {count} upload(s) past the retention period.")


@admin_app.command("publish-due")
def publish_due_command() -> None:
    """Publish approved reports whose embargo date has passed into the public catalogue
    (workers also do this when idle)."""
    from jdl.core.config import get_settings
    from jdl.service._publication import publish_due

    published = publish_due(_sessions(), get_settings())
    typer.echo(f"Published {len(published)} report(s) in the public catalogue"
               + (f": submission(s) {', '.join(map(str, published))}." if published else "."))


@admin_app.command("mail-outbox")
def mail_outbox() -> None:
    """Show the email outbox: how many emails are sent, waiting, given up or dropped, and the
    newest not sent with why (the error's kind; no address or text is stored)."""
    from jdl.core.config import get_settings
    from jdl.service._mail import outbox_summary

    settings = get_settings()
    with _sessions()() as db:
        counts, unsent = outbox_summary(db)
    state = "on" if settings.mail.enabled else "off (JDL_MAIL__HOST is not set)"
    typer.echo(f"Email is {state}.")
    order = ("pending", "sent", "failed", "dropped")
    typer.echo("Outbox: " + (", ".join(f"{counts.get(s, 0)} {s}" for s in order)
                             if counts else "empty") + ".")
    for row in unsent:
        about = (f"submission {row.submission_id}" if row.submission_id is not None
                 else "password reset")
        typer.echo(f"  #{row.id} {row.event} ({about}) to account {row.user_id}: {row.state}, "
                   f"{row.attempts} attempt(s)"
                   + (f", next {row.next_attempt_at:%Y-%m-%d %H:%M} UTC"
                      if row.state == "pending" else "")
                   + (f"; {row.last_error}" if row.last_error else ""))


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on.")] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker",
                                         help="Run queued jobs in this process.")] = True,
) -> None:
    """Start the web service (with an in-process job worker unless --no-worker)."""
    import uvicorn

    from jdl.core.config import get_settings
    from jdl.service import create_app
    from jdl.service._jobs import start_up_sweep
    from jdl.service._storage import owner_only_files

    owner_only_files()
    settings = get_settings()
    settings.service.in_process_worker = worker
    app = create_app(settings)
    # what a crashed server or worker left (staged uploads, decrypted working copies) goes
    start_up_sweep(app.state.sessions, Path(settings.service.storage_dir))
    _hint_if_no_accounts(app)
    from jdl.service._server import uvicorn_options

    # a deadline for each request's head, the keep-alive timeout and a connection cap (issue 16)
    uvicorn.run(app, **uvicorn_options(settings.service, host, port))


def _hint_if_no_accounts(app) -> None:
    """A first start has nobody to sign in: say how to make the first accounts."""
    from sqlalchemy import func, select

    from jdl.service._models import User

    with app.state.sessions() as db:
        if db.scalar(select(func.count()).select_from(User)):
            return
    typer.echo("No accounts yet. Create the lab's and an organisation's first users:\n"
               "  jdl admin create-org \"Justice Data Lab\"\n"
               "  jdl admin create-user --org \"Justice Data Lab\" --role admin "
               "--email you@lab.example\n"
               "then sign in and add the rest on /admin. The public catalogue is at /catalogue.")


def worker() -> None:
    """Run queued evaluation jobs in this process until stopped.

    SIGTERM (systemd, docker) and SIGINT (Ctrl-C) stop it cleanly: the current job is
    abandoned at its next stage (or after ``worker_stop_grace_seconds``), its decrypted
    working files deleted and the job queued again for the next worker.
    """
    import signal
    import threading

    from jdl.core.config import get_settings
    from jdl.service._jobs import Worker
    from jdl.service._storage import owner_only_files, prepare_storage

    owner_only_files()
    settings = get_settings()
    prepare_storage(Path(settings.service.storage_dir))
    runner = Worker(_sessions(), settings)
    stopping = threading.Event()
    received: list[str] = []

    def _on_signal(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    runner.start()
    typer.echo("Worker started; Ctrl-C or SIGTERM stops it (the current job is queued again).")
    try:
        while runner._thread.is_alive() and not stopping.wait(0.5):
            pass
    finally:
        runner.stop(timeout=settings.service.worker_stop_grace_seconds)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        typer.echo(f"Worker stopped ({received[0]}).")
    if runner._thread.is_alive():
        # the abandoned stage's thread is still inside native code (DuckDB): its job is
        # re-queued and its files gone, so leave without the interpreter's shutdown, which
        # could abort under it
        import os
        import sys

        sys.stdout.flush()
        os._exit(0)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(admin_app, name="admin")
    from jdl.service._cli_catalogue import register as register_catalogue

    register_catalogue(app)
