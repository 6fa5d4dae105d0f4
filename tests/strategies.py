"""Hypothesis strategies for hostile log payloads, kept in one place (as attrs does).

The default ``st.text()`` leaves out lone surrogates (category ``Cs``); log input meets
them through ``surrogateescape`` file names and broken UTF-16, so every text strategy here
adds them back, together with control characters, line and paragraph separators and
ANSI escapes.
"""

from __future__ import annotations

import logging
from typing import Any

from hypothesis import strategies as st

#: Characters that break lines or terminals, mixed into generated text on purpose.
HOSTILE_CHARACTERS = '\n\r\x00\x0b\x0c\x1b\x1c\x1d\x1e\x85\u2028\u2029\ufeff"\\{}'

#: Every Unicode category, surrogates (``Cs``) and controls (``Cc``) included.
any_character = st.characters(codec=None, exclude_categories=())
lone_surrogate = st.characters(categories=["Cs"])
control_character = st.characters(categories=["Cc"])

hostile_text = st.text(
    st.one_of(
        any_character,
        lone_surrogate,
        control_character,
        st.sampled_from(HOSTILE_CHARACTERS),
    ),
    max_size=60,
) | st.sampled_from(
    [
        '\n{"run_id": "forged"}\n',
        "\x1b[2J\x1b[31mred\x1b[0m",
        "\r\n",
        "\u2028\u2029",
        "%d %s %(name)s",
    ]
)

#: Long text, built by repeating hostile text, to run into the formatter's size limits.
long_text = st.builds(
    lambda piece, times: piece * times, hostile_text.filter(bool), st.integers(10, 400)
)
texts = hostile_text | long_text

#: Attribute names a LogRecord already has (makeRecord refuses them in ``extra``) or that
#: the formatter places itself: a generated extra must not collide with them.
RESERVED_KEYS = frozenset(
    logging.makeLogRecord({}).__dict__.keys()
    | {"message", "asctime", "run_id", "parent_run_id", "event_type", "taskName"}
)

extra_key = texts.filter(lambda key: key not in RESERVED_KEYS and not key.startswith("_"))

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**290, max_value=10**320)
    | st.floats()  # NaN and the infinities included
    | texts
    | st.binary(max_size=40)
)

#: Nested payloads: dicts, lists and tuples of scalars, keys as hostile as values.
payloads = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.dictionaries(texts, children, max_size=5)
    ),
    max_leaves=25,
)

extras = st.dictionaries(extra_key, payloads, max_size=6)
messages = texts

#: Keys runlogger must redact by default, spelled as real code spells them.
SECRET_KEY_NAMES = (
    "password",
    "Password",
    "db_password",
    "passwd",
    "secret",
    "client_secret",
    "token",
    "x-auth-token",
    "X-Auth-Token",
    "api_key",
    "API-Key",
    "apikey",
    "authorization",
    "Authorization",
    "cookie",
    "Set-Cookie",
    "session",
    "sessionId",
    "private_key",
    "credentials",
)
secret_keys = st.sampled_from(SECRET_KEY_NAMES)

#: A secret distinctive enough that finding it in the output can only mean a leak.
secrets = st.text("0123456789abcdefghijklmnopqrstuvwxyz", min_size=12, max_size=24).map(
    lambda tail: f"S3CR3T{tail}"
)


def _containers(value: object) -> list[Any]:
    """Every dict and list in ``value`` (tuples are immutable and skipped), iteratively."""
    found: list[Any] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            found.append(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            found.append(item)
            pending.extend(item)
        elif isinstance(item, tuple):
            pending.extend(item)
    return found


@st.composite
def extras_with_secret(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """Extras with a secret stored under a secret-looking key somewhere inside.

    The secret goes into a randomly chosen dict (as a value) or list (as a one-key dict),
    at any depth, or at the top level.
    """
    fields = draw(extras)
    key = draw(secret_keys)
    secret = draw(secrets)
    targets = _containers(fields)
    target = draw(st.sampled_from(targets))
    if isinstance(target, dict):
        target[key] = secret
    else:
        target.insert(draw(st.integers(0, len(target))), {key: secret})
    return fields, secret
