"""HTML form handling: CSRF-checked form data parsed into the API's Pydantic schemas."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from gongshu.errors import ValidationFailed
from gongshu.web.deps import check_csrf
from gongshu.web.i18n import validation_message

M = TypeVar("M", bound=BaseModel)


async def form_dict(request: Request) -> dict[str, str]:
    form = await request.form()
    token = form.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None)
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


FormData = Annotated[dict[str, str], Depends(form_dict)]


def parse_form(
    schema: type[M],
    data: dict[str, str],
    *,
    checkboxes: tuple[str, ...] = (),
    blank_clears: bool = False,
) -> M:
    """Blank inputs mean "not given", or "erase" on edit forms (``blank_clears``).

    Checkboxes are present in a form only when ticked.
    """
    values: dict[str, Any] = {
        k: (v if v.strip() else None) for k, v in data.items() if blank_clears or v.strip()
    }
    for name in checkboxes:
        values[name] = name in data
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        errors = [dict(e) | {"loc": ("body", *e["loc"])} for e in exc.errors()]
        raise ValidationFailed(validation_message(errors)) from None
