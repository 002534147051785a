"""The deal page's htmx panels (the forecast, the AI suggestions): one fragment template,
shown again after each write, or a redirect back to the deal page when a browser without
htmx posted the form.

``opportunities/detail.html`` loads each panel after the page; a panel's forms post to its
own routes and htmx swaps the whole section (``outerHTML``). A refused form comes back as
the panel with the messages beside its fields (422).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.web.forms import is_htmx
from pathcast.web.rendering import PageContext, render

FormT = TypeVar("FormT")


@dataclass(frozen=True)
class DealPanel(Generic[FormT]):
    """A panel of the deal page: its template, the id of its section (what htmx swaps and
    where a plain form post lands) and what it shows for a deal and a form."""

    template: str
    anchor: str
    context: Callable[[Session, PageContext, m.Opportunity, FormT | None], dict[str, Any]]

    def render(
        self,
        session: Session,
        page: PageContext,
        deal: m.Opportunity,
        form: FormT | None = None,
        *,
        status: int = 200,
    ) -> Response:
        """The panel as a fragment (a refused form: with its messages, and ``status=422``)."""
        return render(page, self.template, self.context(session, page, deal, form), status_code=status)

    def done(self, session: Session, page: PageContext, deal: m.Opportunity) -> Response:
        """After an accepted write: the panel again for htmx, else back to the deal page at
        the panel (303)."""
        if not is_htmx(page.request):
            return RedirectResponse(f"/opportunities/{deal.id}#{self.anchor}", status_code=303)
        return self.render(session, page, deal)
