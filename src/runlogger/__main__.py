"""``python -m runlogger``: the same command line as the ``runlogger`` script."""

from __future__ import annotations

from ._cli import main

raise SystemExit(main())
