"""Keep the token out of the HTTP libraries' own log records.

httpcore's DEBUG trace logs each response's status line and headers
(``receive_response_headers.complete return_value=...``), so a token a server echoes in a
header or a reason phrase would reach any handler that has DEBUG on for ``httpcore``. The SDK
cannot stop those libraries from logging, so it scrubs their records: a filter on their loggers
rewrites a record's message when it holds a secret of the call being made (a context variable
that :meth:`Runtime.invoke` sets) or anything token-shaped.

A logger's filters see only the records created on that logger, not its children's, so the
filter is added to each logger those libraries log on (``LOGGERS``). Filters run only for
records that are actually created, so with DEBUG off this costs nothing.
"""

from __future__ import annotations

import contextvars
import logging

from ._token import scrub

# The secrets of the operation call running in this context (its task, and tasks it starts).
secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "cognito_signout_secrets", default=()
)

LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "aiohttp",
    "aiohttp.client",
    "aiohttp.internal",
    "hpack",
    "cognito_signout",
)


class SecretScrubber(logging.Filter):
    """Rewrites a record whose text holds the current call's secret or a token-shaped value."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record whose args do not fit its message: leave it to logging
            return True
        clean = text
        for secret in secrets.get():
            clean = scrub(clean, secret)
        clean = scrub(clean, None)
        if clean != text:
            record.msg, record.args = clean, None
        return True


_installed = False


def install() -> None:
    """Add the scrubber to each logger in LOGGERS, once per process."""
    global _installed
    if _installed:
        return
    scrubber = SecretScrubber()
    for name in LOGGERS:
        logging.getLogger(name).addFilter(scrubber)
    _installed = True
