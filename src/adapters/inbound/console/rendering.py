"""Templates, the page context every page shares, and the core's errors as messages on the page."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from importlib.resources import files
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse, RedirectResponse

from application.pagination import Page
from application.security import Permission

from adapters.inbound.api.errors import STATUS, safe_text
from adapters.inbound.console.session import CSRF_FIELD, Session

TEMPLATES = Jinja2Templates(directory=str(files("adapters.inbound.console") / "templates"))
PAGE_SIZE = 20
T = TypeVar("T")


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.isoformat()


def _label(value: object) -> str:
    text = str(getattr(value, "value", value))
    return text.replace("_", " ").capitalize() if text.isupper() or "_" in text else text


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["label"] = _label
TEMPLATES.env.globals["CSRF_FIELD"] = CSRF_FIELD


def render(request: Request, template: str, session: Session | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """A page (or, for htmx, a fragment) with the user, the CSRF token and the time it was read."""
    container = request.app.state.container
    context.update(session=session, read_at=container.clock().now(), path=request.url.path)
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def choice(value: str | None, allowed: Iterable[str]) -> str | None:
    """A filter's value from a GET form: an empty or unknown choice means no filter."""
    return value if value and value in set(allowed) else None


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def status_of(error: Exception) -> int | None:
    """The HTTP status the API answers for this error; None for an error the core did not raise."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return None


def message_of(error: Exception) -> str:
    return safe_text(str(error), 500)  # a ValidationError reads "field: what is wrong"


def attempt(call: Callable[[], T], session: Session | None = None,
            needs: Permission | None = None) -> tuple[T | None, tuple[int, str] | None]:
    """Runs a use case (once the role matrix allows `needs`): its result, or the (status, message) of
    a refusal the page shows."""
    try:
        if needs is not None:
            assert session is not None
            session.require(needs)
        return call(), None
    except Exception as error:
        status = status_of(error)
        if status is None or status >= 500:
            raise
        return None, (status, message_of(error))


def pager(request: Request, page: Page[Any], param: str = "offset") -> dict[str, Any]:
    """Previous and next links of a list, keeping the other query parameters."""
    def link(offset: int) -> str:
        query = {k: v for k, v in request.query_params.items() if k != param}
        query[param] = str(offset)
        return f"{request.url.path}?{urlencode(query)}"

    last = page.offset + len(page.items)
    return {
        "first": page.offset + 1 if page.items else 0, "last": last, "total": page.total,
        "exact": page.total_exact,
        "previous": link(max(page.offset - page.limit, 0)) if page.offset > 0 else None,
        "next": link(page.offset + page.limit) if last < page.total or not page.total_exact else None,
    }
