"""No request header value reaches the log, whatever aiohttp's HTTP parser makes of the request.

When aiohttp's parser refuses a request (a header value with a NUL byte, a header line longer than
its limit, a bad header name), it logs "Error handling request" with the parser's exception, whose
message quotes the offending bytes: an `Authorization` header followed by a NUL byte was logged
whole, an oversized Basic header by its start. `install()` puts a filter on aiohttp's loggers that
keeps the line (peer, status, kind of error) and drops the exception's text and traceback.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

_LOGGERS = ("aiohttp.server", "aiohttp.web", "aiohttp.access", "aiohttp.internal")


class DropParserDetail(logging.Filter):
    """Rewrite a record carrying an `HttpProcessingError`: no message text, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record; strip the parser's quotation of the request from any that has one."""
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            original = record.getMessage()
            record.msg = "%s: refused a malformed request with %d (%s); its bytes are not logged"
            record.args = (original, exc.code, type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


_FILTER = DropParserDetail()


def install() -> None:
    """Attach the filter to aiohttp's loggers (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
