"""`tf.logging`: TF1's logging verbosity and functions, over Python's `logging` logger "graphc".

TF1 programs call `tf.logging.set_verbosity(tf.logging.INFO)` to see what
training hooks and Estimators log ("loss = 0.3, step = 100"); graphc's hooks
log through the "graphc" logger, whose level this sets. The first call also
gives the logger a handler printing `LEVEL:graphc:message` to stderr (as
TF1's `INFO:tensorflow:...`) when the program configured none.
"""

from __future__ import annotations

import logging

DEBUG = logging.DEBUG
INFO = logging.INFO
WARN = logging.WARNING
ERROR = logging.ERROR
FATAL = logging.FATAL

_logger = logging.getLogger("graphc")


def set_verbosity(verbosity) -> None:
    """Logs messages at `verbosity` (DEBUG, INFO, WARN, ERROR, FATAL) and above."""
    if not _logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:graphc:%(message)s"))
        _logger.addHandler(handler)
    _logger.setLevel(verbosity)


def get_verbosity() -> int:
    """The level set by `set_verbosity` (WARN by default, as Python's logging)."""
    return _logger.getEffectiveLevel()


def debug(msg, *args, **kwargs) -> None:
    _logger.debug(msg, *args, **kwargs)


def info(msg, *args, **kwargs) -> None:
    _logger.info(msg, *args, **kwargs)


def warning(msg, *args, **kwargs) -> None:
    _logger.warning(msg, *args, **kwargs)


def error(msg, *args, **kwargs) -> None:
    _logger.error(msg, *args, **kwargs)


def fatal(msg, *args, **kwargs) -> None:
    _logger.fatal(msg, *args, **kwargs)


warn = warning
