"""A stand-in for a third-party library: it logs under its own name and knows nothing of runs."""

import logging

logger = logging.getLogger("acme_client")


def fetch(key):
    logger.debug("fetching %s", key)
    if key == "missing":
        logger.warning("key %s not found, using default", key)
        return None
    return key.upper()
