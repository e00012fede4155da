"""Credentials never reach a log, a report or a written config: one place that hides them.

:func:`redact_url` hides the password of every ``scheme://user:pass@host`` URL in a text (a
storage URL, a hub URL). :func:`redact_secret` also removes a known secret wherever else it
appears, e.g. echoed inside a database driver's error message.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# scheme://user:PASSWORD@ — the password runs to the last "@" before the path, so even an
# unencoded "@" inside it is hidden; "host:8080/path@x" (a port, no password) is left alone.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^\s/]+@")


def redact_url(text: str) -> str:
    """Replace the password of every ``scheme://user:pass@host`` URL in ``text`` with ``***``.

    >>> redact_url("pulled from https://bob:s3cret@hub.example/x")
    'pulled from https://bob:***@hub.example/x'
    """
    return _URL_PASSWORD.sub(r"\1:***@", text)


def url_password(url: str) -> str | None:
    """The password of ``url`` (decoded), or ``None``."""
    try:
        return unquote(urlsplit(url).password or "") or None
    except ValueError:
        return None


def redact_secret(text: str, url: str | None) -> str:
    """``text`` with every URL password hidden and ``url``'s password removed wherever it occurs
    (raw and %-encoded)."""
    out = redact_url(str(text))
    pw = url_password(url) if url else None
    if pw:
        for form in {pw, urlsplit(url).password or pw}:
            out = out.replace(form, "***")
    return out
