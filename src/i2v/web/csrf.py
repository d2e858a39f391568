"""CSRF tokens: an HMAC of the session's own secret, sent back by every state-changing form
(the hidden `csrf_token` field) or htmx request (the X-CSRF-Token header, added by app.js).

The session cookie is SameSite=Lax already, so another site's form posts arrive without it
and the guard refuses them; the token also covers browsers and proxies that ignore SameSite.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from starlette.datastructures import FormData

from i2v.services.web_sessions import SessionInfo

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_PURPOSE = b"i2v-web-csrf-v1"
MAX_FORM_FIELDS = 48
MAX_FORM_FILES = 2  # the create page's picture: chosen, or taken with the camera


class CsrfRefused(Exception):
    """A state-changing request without this session's token: answered 403."""


def token_for(session: SessionInfo) -> str:
    return hmac.new(session.csrf_secret.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def check(session: SessionInfo, request: Request, form: FormData | None = None) -> None:
    """Refuse (CsrfRefused) unless the header or the form carries the session's token."""
    sent = request.headers.get(HEADER)
    if sent is None and form is not None:
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), token_for(session).encode()):
        raise CsrfRefused("this form is out of date or came from another site; reload the page")


async def checked_form(session: SessionInfo, request: Request) -> FormData:
    """The request's form (the guard has capped its body), once its token is checked."""
    form = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)
    check(session, request, form)
    return form
