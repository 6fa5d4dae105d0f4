"""How a run's end is told: exception type names, an exception's description, exit statuses.

Plain functions of a value, used by the runs layer (a run's ``exception``, ``exit_code``)
and the record level (an exception's type in a JSON event).
"""

from __future__ import annotations

import os

__all__ = ["describe_exception", "exit_status", "qualified_name"]


def describe_exception(exc: BaseException) -> dict[str, str]:
    """``{"type", "message"}`` of ``exc``, even when its ``str()`` raises."""
    try:
        message = str(exc)
    except Exception:
        message = f"<unprintable {type(exc).__name__}>"
    return {"type": qualified_name(type(exc)), "message": message}


def exit_status(code: object) -> int:
    """The process exit status that ``SystemExit(code)`` produces, as the OS reports it.

    ``True`` is 1; an integer is cut to its low byte as by ``exit()`` (256 -> 0, -1 -> 255),
    one beyond a C long becomes 255 as in CPython; anything else (a message) is 1.
    """
    if code is None:
        return 0
    if isinstance(code, int):
        if not -(2**63) <= code < 2**63:
            return 255
        return int(code) & 0xFF if os.name == "posix" else int(code)
    return 1


def qualified_name(cls: type) -> str:
    """``ValueError`` for builtins, ``package.module.Class`` for everything else."""
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", cls.__name__)
    if module in (None, "builtins", "__main__"):
        return str(qualname)
    return f"{module}.{qualname}"
