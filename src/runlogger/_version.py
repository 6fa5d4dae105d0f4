"""runlogger's version, kept apart from the package face.

The modules below ``runlogger/__init__.py`` need it too (the OpenTelemetry scope's
version); taking it from the package itself would be an import upwards.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
