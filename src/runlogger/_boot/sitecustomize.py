"""runlogger's start-up hook, active only inside a ``runlogger run`` run.

``runlogger run`` puts this file's directory first on ``PYTHONPATH`` of the program it
wraps, so every Python process the program starts -- ``multiprocessing`` children of any
start method, ``subprocess`` calls of ``python`` -- imports it at start-up. Outside a
wrapped run (``RUNLOGGER_CAPTURE`` unset) it does nothing but read one environment
variable. Inside one it joins the run (events file and summary), the way the wrapped
program itself is captured. Any other ``sitecustomize`` further down ``sys.path`` (a
distribution's, a virtualenv's) still runs afterwards: this one only goes first.

Written to import under any Python 3: an older interpreter the program starts simply
skips the capture.
"""

import os
import sys


def _capture():
    # type: () -> None
    if not os.environ.get("RUNLOGGER_CAPTURE"):
        return
    try:
        from runlogger._capture import capture_from_environment
    except Exception:  # another interpreter, without runlogger: run as without the wrapper
        return
    try:
        capture_from_environment()
    except Exception:  # a failure to join must not stop the program
        return


def _chain():
    # type: () -> None
    """Run the ``sitecustomize`` this one shadows, as Python would have without it."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    try:
        from importlib.machinery import PathFinder
    except ImportError:
        return
    spec = PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or spec.origin == __file__:
        return
    from importlib.util import module_from_spec

    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_capture()
_chain()
