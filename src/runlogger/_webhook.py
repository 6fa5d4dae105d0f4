"""Webhooks and heartbeat pings: a run's start and end reach an HTTP endpoint.

- :class:`WebhookSink` POSTs the summary document as JSON. By default at the finish of
  every run; the URL's fragment (never sent to the server) chooses otherwise:
  ``https://hooks.example/T0/B0/XX#on=start+failure``. Moments: ``start``, ``finish``
  (every end), ``success`` (completed), ``failure`` (failed or terminated).
- :class:`PingSink` follows the healthchecks.io convention for the process's top-level
  run: ``<url>/start`` when it starts, ``<url>`` when it completes, and on failure
  ``<url>/<exit code>`` when the code is known and not 0, else ``<url>/fail``.
  healthchecks.io counts ``/<code>`` other than 0 as a failure and shows the code.

Both use :mod:`runlogger._http`: a timeout per attempt, one retry, and messages that
show only the URL's scheme, host and port (webhook and ping URLs are secrets).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from ._http import check_url, redact_url, request
from ._sinks import RunEvent

__all__ = [
    "MOMENTS",
    "PING_URL_ENV",
    "WEBHOOK_ENV",
    "PingSink",
    "WebhookSink",
    "parse_webhooks",
]

WEBHOOK_ENV = "RUNLOGGER_WEBHOOK"
PING_URL_ENV = "RUNLOGGER_PING_URL"
MOMENTS = ("start", "finish", "success", "failure")
_SEPARATORS = re.compile(r"[\s,]+")
_JSON = {"Content-Type": "application/json"}


def _moments_of(url: str, what: str) -> tuple[str, frozenset[str]]:
    """Split ``url#on=...`` into the URL to call and the moments it wants."""
    bare, _hash, fragment = url.partition("#")
    if not fragment:
        return bare, frozenset({"finish"})
    key, equals, value = fragment.partition("=")
    moments = frozenset(part for part in value.split("+") if part)
    unknown = sorted(moments - set(MOMENTS))
    if key != "on" or not equals or not moments or unknown:
        raise ValueError(
            f"{what} {redact_url(bare)}: the fragment must be #on=MOMENT[+MOMENT...] "
            f"with moments among {', '.join(MOMENTS)}."
        )
    return bare, moments


def parse_webhooks(value: str | Iterable[str] | None, what: str = WEBHOOK_ENV) -> list[WebhookSink]:
    """Webhook sinks from URLs separated by spaces or commas (or an iterable of URLs)."""
    if value is None:
        return []
    items = _SEPARATORS.split(value) if isinstance(value, str) else list(value)
    return [WebhookSink(item, what=what) for item in items if isinstance(item, str) and item]


class WebhookSink:
    """POSTs the summary JSON to one URL at the moments its fragment names."""

    def __init__(self, url: str, *, what: str = "the webhook URL") -> None:
        if not isinstance(url, str):
            raise ValueError(f"{what} must be an http:// or https:// URL, not {url!r}.")
        bare, self.moments = _moments_of(url.strip(), what)
        self.url = check_url(bare, what)
        self.name = f"webhook {redact_url(self.url)}"

    def wants(self, event: RunEvent, summary: Mapping[str, Any]) -> bool:
        if event == "started":
            return "start" in self.moments
        if event != "finished":
            return False
        if "finish" in self.moments:
            return True
        completed = summary.get("status") == "completed"
        return ("success" in self.moments) if completed else ("failure" in self.moments)

    def publish(self, event: RunEvent, summary: Mapping[str, Any]) -> None:
        if not self.wants(event, summary):
            return
        body = json.dumps(summary, ensure_ascii=False, allow_nan=False).encode("utf-8")
        headers = {**_JSON, "X-Runlogger-Event": event}
        request("POST", self.url, body, headers, what="webhook")


def _with_suffix(url: str, suffix: str) -> str:
    """``url`` with ``/suffix`` added to its path (the query stays at the end)."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/") + "/" + suffix
    return urllib.parse.urlunsplit(parts._replace(path=path))


class PingSink:
    """Heartbeat pings, healthchecks.io style, for top-level runs only.

    A nested run is part of its parent's job, so it does not ping; a heartbeat check
    then sees one start and one end per execution of the job. The body of each ping is
    the summary JSON (healthchecks.io keeps it as the ping's log).
    """

    def __init__(self, url: str, *, what: str = "the ping URL") -> None:
        self.url = check_url(url, what).rstrip("/")
        self.name = f"ping {redact_url(self.url)}"

    def target(self, event: RunEvent, summary: Mapping[str, Any]) -> str | None:
        """The URL to call for this state, or None when it calls for no ping."""
        if summary.get("parent_run_id") is not None:
            return None
        if event == "started":
            return _with_suffix(self.url, "start")
        if event != "finished":
            return None
        if summary.get("status") == "completed":
            return self.url
        code = summary.get("exit_code")
        if isinstance(code, int) and not isinstance(code, bool) and 0 < code < 256:
            return _with_suffix(self.url, str(code))
        return _with_suffix(self.url, "fail")

    def publish(self, event: RunEvent, summary: Mapping[str, Any]) -> None:
        url = self.target(event, summary)
        if url is None:
            return
        body = json.dumps(summary, ensure_ascii=False, allow_nan=False).encode("utf-8")
        request("POST", url, body, _JSON, what="ping")
