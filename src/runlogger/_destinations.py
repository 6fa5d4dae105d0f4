"""The built-in destinations, built from environment variables and handler arguments.

Each destination is a run sink (:mod:`runlogger._sinks`); this module only reads the
configuration and creates them, once per distinct configuration: the same Pushgateway
named by the environment and by a handler argument, or by two handlers (``dictConfig``
replacing one mid-run), is one sink, so a run state is sent there once.

| variable | sink |
| --- | --- |
| ``RUNLOGGER_PUSHGATEWAY`` (+ ``RUNLOGGER_PROM_LABELS``) | :class:`PushgatewaySink` |
| ``RUNLOGGER_PUSHGATEWAY_USER`` / ``_PASSWORD`` / ``_TOKEN`` | its Basic or Bearer auth |
| ``RUNLOGGER_TEXTFILE_DIR`` (+ ``RUNLOGGER_PROM_LABELS``) | :class:`TextfileSink` |
| ``RUNLOGGER_WEBHOOK`` | a :class:`WebhookSink` per URL |
| ``RUNLOGGER_PING_URL`` | :class:`PingSink` |
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from ._sinks import RunSink

__all__ = [
    "PUSHGATEWAY_ENV",
    "TEXTFILE_DIR_ENV",
    "destinations",
    "destinations_from_environment",
    "reset",
]

PUSHGATEWAY_ENV = "RUNLOGGER_PUSHGATEWAY"
PUSHGATEWAY_USER_ENV = "RUNLOGGER_PUSHGATEWAY_USER"
PUSHGATEWAY_PASSWORD_ENV = "RUNLOGGER_PUSHGATEWAY_PASSWORD"
PUSHGATEWAY_TOKEN_ENV = "RUNLOGGER_PUSHGATEWAY_TOKEN"
TEXTFILE_DIR_ENV = "RUNLOGGER_TEXTFILE_DIR"
# The modules of the destinations (``_prometheus``, ``_webhook``, and the HTTP client
# under them, which brings tempfile, shutil and compression modules along) are imported
# only when a destination is configured: every summary handler, and so every wrapped
# run, goes through here. These names are theirs too (a test holds them equal).
PROM_LABELS_ENV = "RUNLOGGER_PROM_LABELS"
WEBHOOK_ENV = "RUNLOGGER_WEBHOOK"
PING_URL_ENV = "RUNLOGGER_PING_URL"

_lock = threading.Lock()
#: Sinks created so far, by configuration: one sink per destination and process.
_made: dict[tuple[Any, ...], RunSink] = {}


def _once(key: tuple[Any, ...], make: Callable[[], RunSink]) -> RunSink:
    with _lock:
        sink = _made.get(key)
        if sink is None:
            sink = _made[key] = make()
        return sink


def _same(sink: RunSink) -> RunSink:
    return sink


def destinations(
    *,
    pushgateway: str | None = None,
    textfile_dir: str | os.PathLike[str] | None = None,
    webhook: str | Iterable[str] | None = None,
    ping_url: str | None = None,
    prom_labels: str | Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    from_environment: bool = False,
) -> list[RunSink]:
    """The sinks for the destinations given; ValueError (or MissingBackendError) if bad.

    ``prom_labels`` defaults to ``$RUNLOGGER_PROM_LABELS``; Pushgateway credentials
    always come from the environment (they do not belong in a logging config file).
    """
    env = os.environ if environ is None else environ

    def what(argument: str, variable: str) -> str:
        return variable if from_environment else f"the {argument} argument"

    labels: dict[str, str] = {}
    if prom_labels is not None or env.get(PROM_LABELS_ENV) or pushgateway or textfile_dir:
        from ._prometheus import PushgatewaySink, TextfileSink, parse_labels

        if prom_labels is None:
            labels = parse_labels(env.get(PROM_LABELS_ENV) or None)
        else:
            labels = parse_labels(prom_labels, what("prom_labels", PROM_LABELS_ENV))
    label_key = tuple(sorted(labels.items()))
    sinks: list[RunSink] = []
    if pushgateway:
        auth = (
            env.get(PUSHGATEWAY_USER_ENV) or None,
            env.get(PUSHGATEWAY_PASSWORD_ENV) or None,
            env.get(PUSHGATEWAY_TOKEN_ENV) or None,
        )
        url = str(pushgateway).strip().rstrip("/")
        sinks.append(
            _once(
                ("pushgateway", url, label_key, auth),
                lambda: PushgatewaySink(
                    url,
                    labels,
                    username=auth[0],
                    password=auth[1],
                    token=auth[2],
                    what=what("pushgateway", PUSHGATEWAY_ENV),
                ),
            )
        )
    if textfile_dir:
        directory = os.path.abspath(os.fspath(textfile_dir))
        sinks.append(
            _once(("textfile", directory, label_key), lambda: TextfileSink(directory, labels))
        )
    if webhook:
        from ._webhook import parse_webhooks

        for hook in parse_webhooks(webhook, what("webhook", WEBHOOK_ENV)):
            sinks.append(_once(("webhook", hook.url, hook.moments), partial(_same, hook)))
    if ping_url:
        from ._webhook import PingSink

        url = str(ping_url).strip().rstrip("/")
        sinks.append(
            _once(("ping", url), lambda: PingSink(url, what=what("ping_url", PING_URL_ENV)))
        )
    return sinks


def destinations_from_environment(environ: Mapping[str, str] | None = None) -> list[RunSink]:
    """The sinks that the ``RUNLOGGER_*`` destination variables name."""
    env = os.environ if environ is None else environ
    return destinations(
        pushgateway=env.get(PUSHGATEWAY_ENV) or None,
        textfile_dir=env.get(TEXTFILE_DIR_ENV) or None,
        webhook=env.get(WEBHOOK_ENV) or None,
        ping_url=env.get(PING_URL_ENV) or None,
        environ=env,
        from_environment=True,
    )


def reset() -> None:
    """Forget the sinks made so far (for tests)."""
    with _lock:
        _made.clear()
