"""The process run: started (or joined) at the first configuration, named after the program.

A process whose environment names a run (``RUNLOGGER_RUN_ID`` with its owner) joins it;
otherwise it starts its own and sets the variables, so the Python processes it starts
join it. Starting the process run installs the exit hooks (``_exit``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ._context import RUN_ID_ENV, RUN_OWNER_ENV, current_var, state
from ._exit import install_hooks
from ._ids import new_run_id, validate_run_id
from ._progress_events import LIFECYCLE
from ._run import Run

__all__ = [
    "RUN_NAME_ENV",
    "current_run",
    "ensure_process_run",
    "owned_elsewhere",
    "owner_token",
    "process_run_name",
    "start_process_run",
]


def ensure_process_run() -> Run:
    """Return the process run, starting it (and installing exit hooks) on first use.

    A process whose environment names a run (``RUNLOGGER_RUN_ID``) joins that run
    instead of starting its own; a process that starts a run sets the variable, so
    the Python processes it starts join it.
    """
    process_run = state.process_run
    if process_run is not None:
        return process_run
    with state.lock:
        if state.process_run is not None:
            return state.process_run
        joined_id = os.environ.get(RUN_ID_ENV)
        if joined_id:
            owner = not owned_elsewhere(joined_id)
            process_run = Run(
                run_id=validate_run_id(joined_id),
                name=process_run_name() if owner else None,
                is_process_run=True,
                owner=owner,
                lifecycle=LIFECYCLE,
            )
            process_run.id_chosen = True
        else:
            process_run = Run(
                run_id=new_run_id(),
                name=process_run_name(),
                is_process_run=True,
                lifecycle=LIFECYCLE,
            )
        return _begin_process_run(process_run)


def owned_elsewhere(run_id: str) -> bool:
    """Whether ``$RUNLOGGER_RUN_OWNER`` says a runlogger process owns ``run_id``.

    Only then does this process join the run; an id set without it (a scheduler's
    ``RUNLOGGER_RUN_ID=nightly-2026-12-04``) is a run this process starts and owns.
    """
    owned_id, at, owner = os.environ.get(RUN_OWNER_ENV, "").partition("@")
    return bool(at and owner) and owned_id == run_id


def owner_token(run: Run) -> str:
    """The ``RUNLOGGER_RUN_OWNER`` value that makes children join ``run``."""
    return f"{run.run_id}@{run.host}:{run.pid}"


RUN_NAME_ENV = "RUNLOGGER_RUN_NAME"
#: A first argument that reads as a sub-command (``nightly``, ``send-report``), not as a
#: file, a number, an option or a person's name.
_SUBCOMMAND = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def process_run_name(argv: list[str] | None = None, main_module: str | None = None) -> str:
    """The name of a process run that was given none: ``$RUNLOGGER_RUN_NAME``, else the
    program's.

    The program is the ``-m`` module (a package's ``__main__`` as the package), else the
    script's or console script's file stem (``etl.py`` -> ``etl``), else ``python``. For
    programs known by their sub-commands -- console scripts, ``-m`` modules and Django's
    ``manage.py`` -- a first argument that looks like one (a lowercase word of letters,
    digits, ``-`` and ``_``) is added: ``django-admin nightly``, ``manage send-reports``.
    A plain script's arguments are its data, never part of its name. Runs named this way
    group per job in ``stats``.
    """
    from_environment = os.environ.get(RUN_NAME_ENV, "").strip()
    if from_environment:
        return from_environment
    argv = list(sys.argv) if argv is None else argv
    if main_module is None:
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        main_module = getattr(spec, "name", None)
    if main_module:
        program = main_module.removesuffix(".__main__")
        commands = True
    elif argv and argv[0] not in ("", "-c", "-"):
        base = os.path.basename(argv[0])
        program = base.removesuffix(".py") or base
        commands = base == "manage.py" or not base.endswith(".py")
    else:
        return "python"
    first = argv[1] if commands and len(argv) > 1 else ""
    if 0 < len(first) <= 40 and first[0].isalpha() and set(first) <= _SUBCOMMAND:
        return f"{program} {first}"
    return program


def _begin_process_run(process_run: Run) -> Run:
    """Make ``process_run`` the process run: environment for children, hooks, listeners.

    Called with the state lock held, so that two threads cannot both start one.
    """
    with state.lock:
        if process_run.owner:
            os.environ[RUN_ID_ENV] = process_run.run_id
            os.environ[RUN_OWNER_ENV] = owner_token(process_run)
            state.unannounced = process_run
        state.process_run = process_run
        install_hooks()
        listeners = list(state.listeners)
    for listener in listeners:
        listener.run_started(process_run)
    return process_run


def start_process_run(
    name: str | None = None, *, run_id: str | None = None, **attributes: Any
) -> Run:
    """Start the process run with a chosen name and id, before logging is configured.

    Without it the process run gets a fresh id (or joins ``$RUNLOGGER_RUN_ID``) when the
    first runlogger component is configured. Raises RuntimeError if it already started.
    """
    with state.lock:
        if state.process_run is not None:
            raise RuntimeError(
                f"The process run {state.process_run.run_id} has already started; "
                "start_process_run() must come before any runlogger component is configured."
            )
        process_run = Run(
            run_id=validate_run_id(run_id) if run_id is not None else new_run_id(),
            name=name if name is not None else process_run_name(),
            attributes=attributes,
            is_process_run=True,
            lifecycle=LIFECYCLE,
        )
        process_run.id_chosen = run_id is not None
        return _begin_process_run(process_run)


def current_run() -> Run:
    """The run current in this context: the innermost ``with run()``, else the process run."""
    return current_var.get() or ensure_process_run()
