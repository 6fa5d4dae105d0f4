"""A legacy nightly job: plain logging calls, no runlogger anywhere."""

import logging

from . import acme_client

logger = logging.getLogger(__name__)


def main():
    logger.info("job starting")
    for key in ("alpha", "missing", "gamma"):
        value = acme_client.fetch(key)
        logger.info("fetched %s -> %s", key, value, extra={"event_type": "item_fetched"})
    try:
        ratio = 1 / 0  # noqa: F841  (the failure this job is known for)
    except ZeroDivisionError:
        logger.exception("could not compute the ratio")
    logger.info("job done")
