"""Keeps secrets out of every log line of the process, whoever writes it.

PyGithub at DEBUG logs the body of each response, installation token grants included; an
exception's text can hold a request's headers. So each record is redacted as it is made:
the configured secrets, and anything shaped like a GitHub token, a JWT or a private key.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
SECRET_SHAPES = re.compile(
    r"\b(?:gh[pousr]_|github_pat_)[A-Za-z0-9_-]{16,}"  # installation, user, OAuth and refresh tokens
    r"|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"  # JWTs (a JSON header starts "eyJ")
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    re.DOTALL,
)

_secrets: set[str] = set()


def redact(text: str) -> str:
    text = SECRET_SHAPES.sub(REDACTED, text)
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return text


def keep_secrets_out_of_logs(*secrets: str) -> None:
    """From now on, log records of this process never hold `secrets` or secret-shaped text."""
    _secrets.update(secret for secret in secrets if secret)
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacts", False):
        return

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), ()
        except (TypeError, ValueError):  # arguments that do not fit the message: logging reports it
            return record
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    redacted_record.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacted_record)
