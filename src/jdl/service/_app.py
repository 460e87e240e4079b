"""The FastAPI application factory."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from jdl import __version__
from jdl.core.config import Settings, get_settings
from jdl.core.errors import JDLError
from jdl.service._body_limits import BodyLimits
from jdl.service._db import open_database
from jdl.service._storage import prepare_storage

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service: database migrated on creation, the in-process worker (if enabled) running
    while the app is (FastAPI lifespan)."""
    settings = settings or get_settings()
    sessions = open_database(settings.service.database_url)
    from jdl.service._accounts import refuse_misplaced_lab_roles

    with sessions() as db:  # issue 16: lab roles only in the lab's organisation
        refuse_misplaced_lab_roles(db, settings.service.lab_organisation)
    prepare_storage(Path(settings.service.storage_dir))  # owner-only (0700)
    from jdl.service._crypto import ensure_key

    ensure_key(settings.service)
    from jdl.service._mail import check_mail_settings

    check_mail_settings(settings)  # issue 21: email on needs a public address for its links

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if settings.service.in_process_worker:
            from jdl.service._jobs import Worker

            worker = Worker(sessions, settings)
            worker.start()
        app.state.worker = worker
        yield
        if worker is not None:
            worker.stop(timeout=5)
        app.state.refusals.flush()  # the last minute's refusal counts

    # no Swagger/ReDoc pages (they need inline and third-party script, which the CSP refuses);
    # the schema stays at /openapi.json
    # redirect_slashes off: Starlette builds the redirect's absolute address from the Host
    # header, which a client chooses (links come from public_url only; second independent
    # check, session 6); "/catalogue/" is a 404 like any other unknown address
    app = FastAPI(title="Justice Data Lab", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, redirect_slashes=False,
                  description="Upload a programme's participants, follow the evaluation, "
                              "receive the reviewed report.")
    app.state.settings, app.state.sessions = settings, sessions
    _add_error_handlers(app)

    from starlette.middleware.sessions import SessionMiddleware

    from jdl.service._api_submissions import router as submissions
    from jdl.service._ratelimit import LoginLimiter, RateLimit, RequestLimiter
    from jdl.service._refusals import RefusalAudit
    from jdl.service._web import router as web
    from jdl.service._web import secret_key

    service = settings.service
    key = secret_key(service.secret_key_file)
    # the limits are counted in the database: every server process shares them (issue 16)
    limits_key = hashlib.sha256(b"jdl rate limits\0" + key.encode()).digest()
    app.state.login_limiter = LoginLimiter(sessions, limits_key, service.login_max_failures,
                                           service.login_window_seconds,
                                           service.login_max_failures_per_address)
    app.add_middleware(SessionMiddleware, secret_key=key,
                       session_cookie="jdl_session", max_age=service.session_max_age_seconds,
                       same_site="strict", https_only=service.secure_cookies)
    # requests refused before the app (413/400/408 here, 429 below) are audited, one row per
    # address a minute
    app.state.refusals = RefusalAudit(sessions)
    app.add_middleware(BodyLimits, upload_bytes=settings.intake.max_file_bytes
                       + service.max_form_bytes, form_bytes=service.max_form_bytes,
                       json_bytes=service.max_json_bytes, refused=app.state.refusals.note)
    # outermost (but the security headers): every request counts, an oversized one included
    app.state.request_limiter = RequestLimiter(service.requests_per_minute, sessions,
                                               limits_key)
    app.add_middleware(RateLimit, limiter=app.state.request_limiter,
                       refused=app.state.refusals.note)
    app.include_router(submissions)
    app.include_router(web)
    from jdl.service._web import add_page_handlers

    add_page_handlers(app)  # page dependencies raise: redirects and error pages
    from jdl.service._web_admin import router as admin_pages

    app.include_router(admin_pages)
    from jdl.service._web_reset import install as install_password_reset

    install_password_reset(app)  # issue 21: "Forgotten your password?" by emailed link
    from jdl.service._web_catalogue import router as catalogue

    app.include_router(catalogue)  # the public catalogue: no sign-in
    from jdl.service._web_start import router as start_pages

    app.include_router(start_pages)  # start page, feasibility check, guidance, footer pages

    from fastapi.staticfiles import StaticFiles

    from jdl.service._headers import SecurityHeaders

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    # outermost of all, outside Starlette's ServerErrorMiddleware (which add_middleware cannot
    # wrap): every answer gets them, a 429, a 413 and an unexpected error's 500 included
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build())  # type: ignore[method-assign]

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _add_error_handlers(app: FastAPI) -> None:
    """User errors become clear JSON; anything else a short 500 without a traceback."""

    @app.exception_handler(JDLError)
    async def _user_error(_request: Request, exc: JDLError) -> JSONResponse:
        return JSONResponse(status_code=422, content={
            "detail": exc.message, "hint": exc.hint,
            "problems": list(exc.problems)})

    from starlette.requests import ClientDisconnect

    @app.exception_handler(ClientDisconnect)
    async def _gone(_request: Request, _exc: ClientDisconnect) -> JSONResponse:
        # the client (or the server's own body limits, _server.py) ended the request while
        # its body was read: nobody is listening, and it is no bug worth a traceback
        log.info("a client disconnected while its request body was read")
        return JSONResponse(status_code=400, content={"detail": "The request was not finished."})

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s in request", type(exc).__name__)
        return JSONResponse(status_code=500, content={"detail": "Internal error."})
