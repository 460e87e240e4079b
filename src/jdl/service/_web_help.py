"""The portal's own help: the submission template (CSV and XLSX, written by the same
:func:`jdl.intake.write_template` as ``jdl template``) and a short "what to send" guidance page,
both public (a charity reads them before it has an account). Nothing here reads an upload.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)

MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@lru_cache(maxsize=2)
def template_bytes(fmt: str) -> bytes:
    """The empty template in ``fmt`` (``csv`` or ``xlsx``), made once per process."""
    from jdl.intake import write_template

    with tempfile.TemporaryDirectory() as folder:
        path = write_template(Path(folder) / f"template.{fmt}", fmt)  # type: ignore[arg-type]
        return path.read_bytes()


def _template(fmt: str) -> Response:
    return Response(template_bytes(fmt), media_type=MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="jdl-submission-template.{fmt}"'})


@router.get("/template.csv")
def template_csv() -> Response:
    return _template("csv")


@router.get("/template.xlsx")
def template_xlsx() -> Response:
    return _template("xlsx")


@router.get("/guidance")
def guidance(request: Request) -> Response:
    """What to send: the columns, the dates, who to include, how many people."""
    from jdl.intake._spec import COLUMNS
    from jdl.intake._template import GUIDANCE
    from jdl.service._web_render import _page, _page_user

    settings = request.app.state.settings
    return _page(request, "guidance.html", _page_user(request), columns=COLUMNS,
                 guidance=GUIDANCE, min_people=settings.intake.min_cohort_size,
                 max_mb=settings.intake.max_file_bytes // (1024 * 1024),
                 max_rows=settings.intake.max_rows)
