"""A stand-in for an existing job: its modules only call ``logging.getLogger(__name__)``."""
