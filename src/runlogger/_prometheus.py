"""Prometheus metrics of a run: to a Pushgateway, or a file for node_exporter.

Prometheus watches batch jobs in two standard ways, and both are sinks here:

- :class:`PushgatewaySink` pushes the run's metrics at its start, its checkpoints and
  its finish, grouped by ``job=<run name>`` plus the user's labels;
- :class:`TextfileSink` writes ``runlogger_<name>.prom`` for node_exporter's textfile
  collector, atomically (temp file in the same directory, then rename).

**What a push keeps.** A Pushgateway ``PUT`` replaces the whole group, a ``POST``
only the metric families it names. A failed run must not erase the time of the last
success, so every push here is a ``POST`` and the families that only a finish can
know -- ``last_success_timestamp`` (completed runs only), ``end_timestamp``,
``duration``, ``exit_code`` -- are sent only then: between runs, and while the next
one runs, they describe the last finished run. Every other family is sent whole at
every push (all statuses one-hot, every standard level, zeros included), so nothing
of a previous run lingers in them. The textfile keeps the same promise by carrying
the previous file's families that a write does not name.

Which runs: the top-level run of a process (its job name is the run's name, else the
script's file name), and nested runs that were given a name. A nested run without a
name has no job of its own and is skipped.

The metric families are built with ``prometheus-client`` (``runlogger[prometheus]``),
checked at configuration so a missing extra fails there with a clear error.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ._errors import MissingBackendError
from ._http import check_url, redact_url, request, request_timeout
from ._sinks import RunEvent
from ._summary import OTHER_EVENT_TYPE as SUMMARY_OTHER

__all__ = [
    "EVENT_TYPE_CAP",
    "OTHER_EVENT_TYPE",
    "PROM_LABELS_ENV",
    "PushgatewaySink",
    "TextfileSink",
    "job_name",
    "metric_families",
    "parse_labels",
    "require_client",
]

PROM_LABELS_ENV = "RUNLOGGER_PROM_LABELS"
#: Distinct ``event_type`` values exported per run; the rest are summed under
#: :data:`OTHER_EVENT_TYPE`, so a bad event type cannot explode the series count.
EVENT_TYPE_CAP = 50
OTHER_EVENT_TYPE = "_other"
#: Names already standing for many event types: ours, and the summary's.
_OVERFLOW = frozenset({OTHER_EVENT_TYPE, SUMMARY_OTHER})
STATUSES = ("running", "completed", "failed", "terminated")
STANDARD_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Families sent only when a run finishes (a failed run leaves last_success alone).
FINISH_ONLY = (
    "runlogger_run_end_timestamp_seconds",
    "runlogger_run_duration_seconds",
    "runlogger_run_exit_code",
    "runlogger_run_last_success_timestamp_seconds",
)
_SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_MISSING = (
    "Prometheus metrics need the prometheus-client package: pip install 'runlogger[prometheus]'"
)


def require_client() -> None:
    """Raise :class:`MissingBackendError` naming the extra when prometheus-client is absent."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise MissingBackendError(_MISSING) from None


def parse_labels(
    value: str | Mapping[str, str] | None, what: str = PROM_LABELS_ENV
) -> dict[str, str]:
    """Grouping labels from ``"env=prod,team=data"`` or a mapping; ValueError when bad.

    ``job`` is the run's name and cannot be set here; names follow Prometheus's rules
    and may not start with ``__`` (reserved).
    """
    if value is None:
        return {}
    if isinstance(value, str):
        pairs: list[tuple[str, str]] = []
        for item in value.split(","):
            if not item.strip():
                continue
            name, equals, label_value = item.partition("=")
            if not equals:
                raise ValueError(f"{what}: {item.strip()!r} is not written name=value.")
            pairs.append((name.strip(), label_value.strip()))
    elif isinstance(value, Mapping):
        pairs = [(str(name), str(label_value)) for name, label_value in value.items()]
    else:
        raise ValueError(f"{what} must be 'name=value,...' or a mapping, not {value!r}.")
    labels: dict[str, str] = {}
    for name, label_value in pairs:
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"{what}: {name!r} is not a valid Prometheus label name.")
        if name == "job":
            raise ValueError(f"{what}: 'job' is the run's name and cannot be set as a label.")
        if not label_value:
            raise ValueError(f"{what}: the label {name!r} has an empty value.")
        labels[name] = label_value
    return labels


def job_name(summary: Mapping[str, Any]) -> str | None:
    """The ``job`` label of a run, or None for a nested run without a name."""
    name = summary.get("name")
    if isinstance(name, str) and name:
        return name
    if summary.get("parent_run_id") is not None:
        return None
    argv = summary.get("argv")
    if isinstance(argv, list) and argv and isinstance(argv[0], str):
        stem = Path(argv[0]).stem
        if stem and stem[0].isalnum():
            return stem
    return "runlogger"


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _count(value: object) -> float:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else 0.0


def exit_code_of(summary: Mapping[str, Any]) -> int:
    """The exit code when known, else what the status implies (0, 1, 130/143)."""
    code = summary.get("exit_code")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    status = summary.get("status")
    if status == "completed":
        return 0
    if status == "terminated":
        return _SIGNAL_EXIT.get(str(summary.get("signal")), 143)
    return 1


def capped_event_counts(counts: object, cap: int = EVENT_TYPE_CAP) -> dict[str, float]:
    """The ``cap`` most frequent event types; the others summed under ``_other``.

    ``_other`` is always there (0 when nothing overflowed): a Pushgateway ``POST``
    replaces a family only when it holds a sample, and the previous run's event types
    must not linger. The summary's own overflow, ``(other)``, is added to it.
    """
    items = sorted(
        (
            (str(name), _count(value))
            for name, value in (counts.items() if isinstance(counts, Mapping) else ())
            if str(name) not in _OVERFLOW
        ),
        key=lambda item: (-item[1], item[0]),
    )
    kept = dict(items[:cap])
    folded = (
        sum(_count(counts.get(name)) for name in _OVERFLOW) if isinstance(counts, Mapping) else 0
    )
    kept[OTHER_EVENT_TYPE] = folded + sum(value for _name, value in items[cap:])
    return kept


def metric_families(
    event: RunEvent, summary: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> list[Any]:
    """The metric families of one run state, each sample with ``labels`` added.

    The families of :data:`FINISH_ONLY` are present only when ``event`` is
    ``finished`` (and last success only for a completed run).
    """
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    base = dict(labels or {})
    names = list(base)
    values = list(base.values())
    families: list[Any] = []

    def gauge(name: str, documentation: str, value: float) -> None:
        family = GaugeMetricFamily(name, documentation, labels=names)
        family.add_metric(values, value)
        families.append(family)

    def counter(name: str, documentation: str, value: float) -> None:
        family = CounterMetricFamily(name, documentation, labels=names)
        family.add_metric(values, value)
        families.append(family)

    def by_label(
        kind: Callable[..., Any],
        name: str,
        documentation: str,
        label: str,
        items: Mapping[str, float],
    ) -> None:
        family = kind(name, documentation, labels=[*names, label])
        for key, value in items.items():
            family.add_metric([*values, key], value)
        families.append(family)

    status = str(summary.get("status"))
    start = _timestamp(summary.get("start_time"))
    gauge(
        "runlogger_run_start_timestamp_seconds",
        "When the current or last run started, in Unix seconds.",
        math.nan if start is None else start,
    )
    updated = _timestamp(summary.get("updated_at"))
    gauge(
        "runlogger_run_updated_timestamp_seconds",
        "When the run last reported its state (start, checkpoint, finish), in Unix seconds.",
        math.nan if updated is None else updated,
    )
    gauge(
        "runlogger_run_checkpoint_interval_seconds",
        "Seconds between the run's checkpoints: a running run not updated for 3 of them is lost.",
        _number(summary.get("checkpoint_interval_s")),
    )
    by_label(
        GaugeMetricFamily,
        "runlogger_run_status",
        "1 for the run's status (running, completed, failed, terminated), else 0.",
        "status",
        {name: 1.0 if name == status else 0.0 for name in STATUSES},
    )
    levels = dict.fromkeys(STANDARD_LEVELS, 0.0)
    counts_by_level = summary.get("counts_by_level")
    if isinstance(counts_by_level, Mapping):
        levels.update({str(name): _count(value) for name, value in counts_by_level.items()})
    by_label(
        CounterMetricFamily,
        "runlogger_run_records_total",
        "Records the run logged, by level.",
        "level",
        levels,
    )
    counter(
        "runlogger_run_errors_total",
        "Records at ERROR or above the run logged.",
        _count(summary.get("error_count")),
    )
    counter(
        "runlogger_run_warnings_total",
        "Records at WARNING the run logged.",
        _count(summary.get("warning_count")),
    )
    counter(
        "runlogger_run_logging_errors_total",
        "Records or run states that runlogger failed to deliver.",
        _count(summary.get("logging_errors")),
    )
    by_label(
        CounterMetricFamily,
        "runlogger_run_events_total",
        f"Records with an event_type, by type (at most {EVENT_TYPE_CAP}; the rest under "
        f"{OTHER_EVENT_TYPE}).",
        "event_type",
        capped_event_counts(summary.get("counts_by_event_type")),
    )
    progress = summary.get("progress")
    progress = progress if isinstance(progress, Mapping) else {}
    gauge(
        "runlogger_run_progress_done",
        "Items the run reported done (0 before any progress report).",
        _count(progress.get("done")),
    )
    gauge(
        "runlogger_run_progress_total",
        "Items the run reported in total (NaN when unknown).",
        _number(progress.get("total")),
    )
    if event != "finished":
        return families
    end = _timestamp(summary.get("end_time"))
    gauge(
        "runlogger_run_end_timestamp_seconds",
        "When the last finished run ended, in Unix seconds.",
        math.nan if end is None else end,
    )
    gauge(
        "runlogger_run_duration_seconds",
        "Wall-clock duration of the last finished run.",
        _count(summary.get("duration_ms")) / 1000.0,
    )
    gauge(
        "runlogger_run_exit_code",
        "Exit code of the last finished run (from its status when the process did not say).",
        float(exit_code_of(summary)),
    )
    if status == "completed" and end is not None:
        gauge(
            "runlogger_run_last_success_timestamp_seconds",
            "When the last completed run ended, in Unix seconds; failed runs leave it alone.",
            end,
        )
    return families


class _Families:
    """A prometheus-client collector that yields a fixed list of families."""

    def __init__(self, families: Iterable[Any]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Any]:
        yield from self.families


def render(families: Iterable[Any]) -> bytes:
    """The families in the text exposition format."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


class PushgatewaySink:
    """Pushes each run state to a Pushgateway (``POST``: see the module docstring).

    ``url`` may carry ``user:password@`` (sent as Basic auth); ``username``/``password``
    or ``token`` (a Bearer token) do the same from the environment. Each push is one
    request with :func:`runlogger._http.request`'s timeout and single retry.
    """

    def __init__(
        self,
        url: str,
        labels: Mapping[str, str] | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        what: str = "the Pushgateway URL",
    ) -> None:
        require_client()
        self.url = check_url(url, what).rstrip("/")
        self.labels = dict(labels or {})
        self.name = f"pushgateway {redact_url(self.url)}"
        self._headers: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        elif username is not None:
            import base64

            pair = f"{username}:{password or ''}".encode()
            self._headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"

    def publish(self, event: RunEvent, summary: Mapping[str, Any]) -> None:
        job = job_name(summary)
        if job is None:
            return
        from prometheus_client import CollectorRegistry, pushadd_to_gateway

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(metric_families(event, summary)))
        pushadd_to_gateway(
            self.url,
            job=job,
            registry=registry,
            grouping_key=self.labels,
            timeout=request_timeout(),
            handler=self._handler,
        )

    def _handler(
        self,
        url: str,
        method: str,
        timeout: float | None,
        headers: list[tuple[str, str]],
        data: bytes,
    ) -> Callable[[], None]:
        def send() -> None:
            all_headers = dict(headers)
            all_headers.update(self._headers)
            request(method, url, data, all_headers, timeout=timeout, what="push to")

        return send


class TextfileSink:
    """Writes ``<directory>/runlogger_<job>.prom`` for node_exporter's textfile collector.

    Each write replaces the file atomically (a hidden temp file in the same directory,
    fsync, ``os.replace``), so node_exporter never reads half a file; the temp name
    does not end in ``.prom``, so the collector never picks it up. Families of the
    previous file that this write does not name (last success, last duration...) are
    carried over. The file is readable by all (0644): node_exporter runs as another user.
    """

    def __init__(self, directory: str | os.PathLike[str], labels: Mapping[str, str] | None = None):
        require_client()
        path = Path(directory)
        if path.exists() and not path.is_dir():
            raise ValueError(f"the textfile directory {str(path)!r} is not a directory.")
        self.directory = path
        self.labels = dict(labels or {})
        self.name = f"textfile {path}"

    def path_for(self, job: str) -> Path:
        return self.directory / f"runlogger_{_UNSAFE_FILE_CHARS.sub('_', job)}.prom"

    def publish(self, event: RunEvent, summary: Mapping[str, Any]) -> None:
        job = job_name(summary)
        if job is None:
            return
        path = self.path_for(job)
        families = metric_families(event, summary, {"job": job, **self.labels})
        named = {family.name for family in families}
        carried = [family for family in self._previous(path) if family.name not in named]
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, render([*families, *carried]))

    @staticmethod
    def _previous(path: Path) -> list[Any]:
        """The families of the file as it is, or none when it is missing or unreadable."""
        from prometheus_client.parser import text_string_to_metric_families

        try:
            text = path.read_text(encoding="utf-8")
            return list(text_string_to_metric_families(text))
        except (OSError, ValueError, UnicodeDecodeError):
            return []


def _write_atomically(path: Path, data: bytes) -> None:
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
