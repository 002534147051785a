"""RFC 9457 problem details for every API error, in the caller's language.

Each problem names what went wrong for a person (``title``, ``detail``) and, for
invalid input, each offending field (``errors[].field``, with ``row`` for imports).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pathcast.errors import FieldError, InvalidInput, PathcastError, TooManyRequests
from pathcast.i18n import locale_from_accept_language, translate

PROBLEM_TYPE_BASE = "https://pathcast.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("pathcast")

HtmlErrorRenderer = Callable[[Request, int, str, str], Response]
_html_renderer: list[HtmlErrorRenderer] = []


def set_html_error_renderer(renderer: HtmlErrorRenderer) -> None:
    """Let the web package render errors of page requests as HTML."""
    _html_renderer[:] = [renderer]


def request_locale(request: Request) -> str:
    """The signed-in user's language if known, else the browser's."""
    locale = getattr(request.state, "locale", None)
    return locale or locale_from_accept_language(request.headers.get("accept-language"))


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and bool(_html_renderer)


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json answer (or an HTML page for browser routes)."""
    locale = request_locale(request)
    title = translate(f"errors.title.{status}", locale)
    if _wants_html(request):
        return _html_renderer[0](request, status, title, detail)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def localised_params(params: dict[str, Any], locale: str) -> dict[str, Any]:
    """Translate entity and operation names inside message parameters."""
    result = dict(params)
    for key, section in (("entity", "entities"), ("operation", "operations")):
        if isinstance(result.get(key), str):
            result[key] = translate(f"{section}.{result[key]}", locale)
    return result


def field_problem(error: FieldError, locale: str) -> dict[str, Any]:
    """One ``errors[]`` entry for a field error."""
    entry: dict[str, Any] = {
        "field": error.field,
        "code": error.code,
        "detail": translate(f"errors.field.{error.code}", locale, **localised_params(error.params, locale)),
    }
    if error.row is not None:
        entry["row"] = error.row
    return entry


def _pydantic_field(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


async def _pathcast_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PathcastError)
    locale = request_locale(request)
    errors = None
    if isinstance(exc, InvalidInput):
        errors = [field_problem(error, locale) for error in exc.errors]
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        detail=translate(f"errors.{exc.code}", locale, **localised_params(exc.params, locale)),
        errors=errors,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    locale = request_locale(request)
    errors = []
    for error in exc.errors():
        code = "missing" if error.get("type") == "missing" else "invalid"
        entry = {
            "field": _pydantic_field(tuple(error.get("loc", ()))),
            "code": error.get("type", code),
            "detail": translate(f"errors.field.{code}", locale, message=error.get("msg", "")),
        }
        errors.append(entry)
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return problem_response(
            request,
            status=400,
            code="invalid_body",
            detail=translate("errors.invalid_body", locale),
            errors=errors,
        )
    return problem_response(
        request,
        status=422,
        code="invalid_input",
        detail=translate("errors.invalid_input", locale),
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    locale = request_locale(request)
    code = {404: "route_not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
        exc.status_code, "error"
    )
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code not in (404, 405) else None
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        detail=detail or translate(f"errors.{code}", locale),
        headers=getattr(exc, "headers", None),
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request, status=500, code="error", detail=translate("errors.error", request_locale(request))
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error through the problem-details renderer."""
    app.add_exception_handler(PathcastError, _pathcast_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
