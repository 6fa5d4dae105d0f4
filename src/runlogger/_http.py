"""Small HTTP client for the network sinks: bounded, retried once, secrets kept out.

Webhooks, heartbeat pings and the Pushgateway all send one request per run state.
They share three needs the standard library does not give in one call:

- a **bound**: every attempt has a timeout (``RUNLOGGER_HTTP_TIMEOUT``, default
  :data:`DEFAULT_TIMEOUT` seconds), and there is exactly one retry, for failures that a
  second try can cure (no connection, a timeout, HTTP 5xx or 429);
- **no secrets in messages**: webhook and ping URLs carry their secret in the path
  (Slack, healthchecks.io), the query (``?token=``) or the userinfo. Every error raised
  here names the URL only as :func:`redact_url` shows it, and the text of the
  underlying error is scrubbed of the URL's parts as well;
- **one exception type**, :class:`DeliveryError`, whose message is one line.
"""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.error
import urllib.parse
from collections.abc import Mapping

__all__ = [
    "DEFAULT_TIMEOUT",
    "HTTP_TIMEOUT_ENV",
    "DeliveryError",
    "check_url",
    "redact_url",
    "request",
    "request_timeout",
]

HTTP_TIMEOUT_ENV = "RUNLOGGER_HTTP_TIMEOUT"
#: Seconds one attempt may take. Two attempts and the pause between them stay under
#: the default exit bound of the sinks (5 s).
DEFAULT_TIMEOUT = 2.0
#: Pause before the retry.
RETRY_PAUSE = 0.2
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_USER_AGENT = "runlogger"


class DeliveryError(OSError):
    """A request a sink made failed; the message never holds the URL's secrets."""


def request_timeout() -> float:
    """``$RUNLOGGER_HTTP_TIMEOUT`` if it is a positive number, else the default."""
    text = os.environ.get(HTTP_TIMEOUT_ENV)
    if text:
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if 0 < value < float("inf"):
            return value
    return DEFAULT_TIMEOUT


def redact_url(url: str) -> str:
    """``url`` as it may appear in a message: scheme, host and port only.

    The path and the query are replaced by ``/***`` (a webhook's path *is* its
    secret), the userinfo is dropped. A URL that does not parse becomes ``<url>``.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<url>"
    if not parts.scheme or not host:
        return "<url>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    hidden = "/***" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{netloc}{hidden}"


def check_url(url: object, what: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host, else a ValueError."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{what} must be an http:// or https:// URL, not {url!r}.")
    url = url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        _port = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"{what} is not a valid URL: {redact_url(url)}") from None
    if parts.scheme not in ("http", "https") or not host:
        shown = redact_url(url)
        # Only what redact_url lets through is shown: the rest may be a secret.
        tail = f", not {shown}" if shown != "<url>" else " with a host name"
        raise ValueError(f"{what} must be an http:// or https:// URL{tail}.")
    return url


def _secrets_of(url: str) -> list[str]:
    """The parts of ``url`` that must not appear in a message, longest first."""
    parts = urllib.parse.urlsplit(url)
    candidates = [url, parts.path, parts.query, parts.netloc, parts.username, parts.password]
    candidates += [segment for segment in parts.path.split("/") if len(segment) >= 4]
    candidates += urllib.parse.parse_qs(parts.query).get("token", [])
    found = {item for item in candidates if item and item not in ("/", parts.hostname)}
    return sorted(found, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    for secret in _secrets_of(url):
        text = text.replace(secret, "***")
    return " ".join(text.split())  # one line


def _describe(exc: BaseException, url: str, timeout: float) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    reason: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    return _scrub(f"{type(reason).__name__}: {reason}", url)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in _RETRY_STATUSES
    return isinstance(exc, (urllib.error.URLError, OSError, TimeoutError))


def _split_userinfo(url: str) -> tuple[str, str | None]:
    """``url`` without its userinfo, and the Basic ``Authorization`` it stood for."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, None
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    netloc = parts.netloc.rpartition("@")[2]
    bare = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return bare, f"Basic {token}"


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    timeout: float | None = None,
    what: str = "request",
) -> int:
    """Send one request, retried once when that can help; the HTTP status on success.

    Credentials in the URL's userinfo are sent as Basic auth, never in the request
    line. Raises :class:`DeliveryError` (``what``, method, redacted URL, cause) when
    both attempts fail or the server refuses with a 4xx.
    """
    # Imported on first use: urllib.request pulls in ssl, http.client and email (tens of
    # milliseconds), which every process configuring a summary handler would pay for.
    import urllib.request

    seconds = request_timeout() if timeout is None else timeout
    target, authorization = _split_userinfo(url)
    all_headers = {"User-Agent": _USER_AGENT}
    if authorization is not None:
        all_headers["Authorization"] = authorization
    all_headers.update(headers or {})
    last: BaseException | None = None
    for attempt in range(2):
        if attempt:
            time.sleep(RETRY_PAUSE)
        prepared = urllib.request.Request(target, data=body, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(prepared, timeout=seconds) as response:
                response.read(65536)
                status: int = response.status
                return status
        except Exception as exc:
            last = exc
            if not _retryable(exc):
                break
    assert last is not None
    raise DeliveryError(
        f"{what} {method} {redact_url(url)} failed: {_describe(last, url, seconds)}"
    ) from None
