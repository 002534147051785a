"""Grant pages: the customer's ``/portal/grants`` (create, list with every access, revoke)
and the grantee's ``/grant/{token}`` (an audit grant's tables, a migration grant's export
links). Everything goes through ``portal.service.grants``.

``/portal/grants`` is for the account's customer contacts (their own account) and for
admins acting on a customer's request (``?account_id=``). The token page needs no login:
the token is the credential, checked on every request, and each view is recorded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput
from pathcast.portal.api_grants import GrantSession
from pathcast.portal.service import grants
from pathcast.web.forms import PostedForm, message, parse_day
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page, anonymous_locale

router = APIRouter(include_in_schema=False)

FORM_NAMES = ("grantee", "purpose", "period_start", "period_end", "expires_on")


async def posted_fields(request: Request) -> list[str]:
    """The ticked ``dataset.field`` boxes (a repeated form name; ``PostedForm`` keeps one)."""
    form = await request.form()
    return [value for value in form.getlist("field") if isinstance(value, str)]


PostedFields = Annotated[list[str], Depends(posted_fields)]


def _account_id(page: PageContext, requested: int | None) -> int:
    if page.actor.account_id is not None:
        return requested if requested is not None else page.actor.account_id
    if requested is None:
        raise InvalidInput.single("account_id", "missing")
    return requested


def _suffix(page: PageContext, account_id: int) -> str:
    """Admins carry the account in the URL; a customer contact's is implied."""
    return "" if page.actor.account_id is not None else f"?account_id={account_id}"


def _page(
    session: DbSession,
    page: PageContext,
    account_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    issued: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    entries = grants.list_grants(session, page.actor, account_id)
    context = {
        "portal_tab": "grants",
        "account_id": account_id,
        "suffix": _suffix(page, account_id),
        "entries": entries,
        "choices": grants.grant_choices(),
        "values": values or {"purpose": "audit", "fields": []},
        "errors": errors or {},
        "issued": issued,
    }
    return render(page, "portal/grants.html", context, status_code=status_code)


@router.get("/portal/grants")
def grants_page(page: Page, session: DbSession, account_id: int | None = None) -> Response:
    """The account's grants, each with its accesses, and the form for a new one."""
    return _page(session, page, _account_id(page, account_id))


def _parse(form: dict[str, str], ticked: list[str]) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for name in ("period_start", "period_end", "expires_on"):
        text = form.get(name, "").strip()
        day = parse_day(text) if text else None
        if day is None:
            errors.append(FieldError(name, "date_invalid" if text else "missing"))
        values[name] = day
    fields: dict[str, list[str]] = {}
    for item in ticked:
        dataset, _, name = item.partition(".")
        fields.setdefault(dataset, []).append(name)
    values["fields"] = fields
    return values, errors


@router.post("/portal/grants")
def create_grant(
    page: FormPage, session: DbSession, form: PostedForm, ticked: PostedFields, account_id: int | None = None
) -> Response:
    """Create a grant and show its link once; bad input comes back (422) with the values kept."""
    chosen = _account_id(page, account_id)
    kept = {name: form.get(name, "") for name in FORM_NAMES} | {"fields": ticked}
    values, errors = _parse(form, ticked)
    if not errors:
        expires_on: date = values["expires_on"]
        try:
            grant, token = grants.create_grant(
                session,
                page.actor,
                account_id=chosen,
                grantee=form.get("grantee", ""),
                purpose=form.get("purpose", ""),
                fields=values["fields"],
                period_start=values["period_start"],
                period_end=values["period_end"],
                # a grant "expiring on" a day still works through that day (UTC)
                expires_at=datetime.combine(expires_on, time(23, 59, 59), tzinfo=UTC),
            )
        except InvalidInput as refused:
            errors = refused.errors
        else:
            return _page(session, page, chosen, issued=(grant.grantee, f"/grant/{token}"), status_code=201)
    messages: dict[str, str] = {}
    for error in errors:
        key = "fields" if error.field.startswith("fields") else error.field
        messages.setdefault(key, message(error, page.locale))
    return _page(session, page, chosen, values=kept, errors=messages, status_code=422)


@router.post("/portal/grants/{grant_id}/revoke")
def revoke_grant(page: FormPage, session: DbSession, grant_id: int) -> Response:
    """Revoke now; the grantee's next request fails."""
    grant = grants.revoke_grant(session, page.actor, grant_id)
    return RedirectResponse(f"/portal/grants{_suffix(page, grant.account_id)}", status_code=303)


@router.get("/grant/{token}")
def grant_view(request: Request, session: GrantSession, token: str) -> Response:
    """An audit grant's data (recorded as an access) or a migration grant's export links."""
    page = PageContext(request=request, locale=anonymous_locale(request))
    grant = grants.active_grant(session, token)
    tables = None
    if grant.purpose == "audit":
        tables = grants.grant_data(session, token, ip=request.client.host if request.client else None).tables
    context = {"grant": grant, "tables": tables, "token": token}
    return render(page, "portal/grant_view.html", context, headers={"Referrer-Policy": "no-referrer"})
