"""Error answers a person can read: a styled page for a browser, JSON for the API.

A request gets a page when it is not for the API (``/api/...``, ``/openapi.json``,
``/healthz``) and its ``Accept`` header asks for HTML, as every browser navigation does;
anything else (scripts, ``curl``, the API's clients) keeps FastAPI's JSON. Covered here: an
unknown address (404), a method the address does not take (405), an address whose parts are
not valid (FastAPI's 422 becomes a 404 page for a path, a 400 page for a query: a person
never sees pydantic's text), any other HTTP error the app raises, and an unexpected error
(500), which shows a short reference the lab can find in its log and never a traceback.

A form posted with a missing or invalid field is answered by its own page handler, which
draws the same form again with an error summary (``_web.py``); the handlers here are the
safety net for everything else.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("jdl.service")

API_PREFIXES = ("/api/", "/openapi.json", "/healthz")

HEADINGS = {400: "There is a problem with this address", 403: "You cannot do this",
            404: "Page not found", 405: "This page cannot do that",
            408: "The request took too long", 409: "Not available yet",
            413: "File too large", 422: "There is a problem", 429: "Try again later",
            500: "Sorry, there is a problem with the service",
            503: "Sorry, the service is unavailable"}

MESSAGES = {
    404: "If you typed the web address, check it is correct. If you pasted it, check you "
         "copied the whole address.",
    405: "This address does not take that kind of request. Go back to the page you came "
         "from and use its buttons.",
    500: "Your request could not be completed. Try again later; if it keeps happening, "
         "contact the lab and quote the reference below.",
}


def wants_html(request: Request | Any) -> bool:
    """True for a browser's request to a page (not the API): it gets a page, not JSON."""
    path = request.url.path if hasattr(request, "url") else request["path"]
    if path == "/api" or path.startswith(API_PREFIXES):
        return False
    accept = request.headers.get("accept", "") if hasattr(request, "headers") else ""
    return "text/html" in accept.lower()


def error_page(request: Request, status: int, message: str | None = None, *,
               heading: str | None = None, reference: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    """The styled error page (``error.html``) for ``status``; no user shown in the header."""
    from jdl.service._web_render import templates

    csrf = request.session.get("csrf", "") if "session" in request.scope else ""
    return templates.TemplateResponse(request, "error.html", {
        "user": None, "csrf_token": csrf,
        "heading": heading or HEADINGS.get(status, "There is a problem"),
        "message": message or MESSAGES.get(status, ""), "reference": reference,
        "status": status}, status_code=status, headers=headers)


def refusal_html(status: int, detail: str) -> bytes:
    """A whole error page as bytes, for answers written before the app runs (the body-limit
    middleware's 413/408/400): same look, no request needed."""
    import re

    from jdl.service._web_render import templates

    if status == 413:  # the middleware's words are for any request; a person sent a file
        detail = re.sub(r"^The request is larger than the limit of (.+?) for this address\.$",
                        r"The file is larger than the limit of \1. Nothing was kept.", detail)
    return templates.env.get_template("error.html").render(
        user=None, csrf_token="", heading=HEADINGS.get(status, "Request refused"),
        message=detail, reference=None, status=status).encode()


def _detail_text(detail: Any, status: int) -> str:
    """An HTTP error's detail as a sentence for a page (Starlette's defaults replaced)."""
    if isinstance(detail, str) and detail and detail not in ("Not Found",
                                                             "Method Not Allowed"):
        return detail
    return MESSAGES.get(status, "")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not wants_html(request):
        return await http_exception_handler(request, exc)
    return error_page(request, exc.status_code, _detail_text(exc.detail, exc.status_code),
                      headers=getattr(exc, "headers", None))


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 for an address it cannot parse (``/submissions/abc``): JSON for the
    API, and for a browser the page a person expects (a path that is not valid names no
    page: 404)."""
    assert isinstance(exc, RequestValidationError)
    if not wants_html(request):
        return await request_validation_exception_handler(request, exc)
    in_path = any(e.get("loc", ("",))[0] == "path" for e in exc.errors())
    if in_path:
        return error_page(request, 404, MESSAGES[404])
    return error_page(request, 400, "Part of this web address is not valid. Go back and use "
                                    "the page's links and buttons.")


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """An error nobody planned for: logged with a reference (the exception's type, never
    its text, which may quote data), answered with the reference and no traceback."""
    reference = secrets.token_hex(4).upper()
    log.error("unhandled %s in %s %s (reference %s)", type(exc).__name__, request.method,
              request.url.path, reference)
    if not wants_html(request):
        return JSONResponse(status_code=500, content={"detail": "Internal error.",
                                                      "reference": reference})
    return error_page(request, 500, reference=reference)


def add_error_pages(app: Any) -> None:
    """Register the handlers (after the app's own JSON ones, which they replace; the pages'
    more specific handlers for their own exceptions still win)."""
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
