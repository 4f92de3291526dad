"""Logging set-up shared by the scripts that rules call: one log file per job, plus stderr."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def job_logger(log_path: str | Path | None, name: str = "emotrace") -> logging.Logger:
    """Log INFO and above to `log_path` and stderr; uncaught exceptions are logged before exiting."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    # Library modules log under "emotrace.<module>"; route them to the same handlers.
    root = logging.getLogger("emotrace")
    if root is not logger:
        root.setLevel(logging.INFO)
        root.handlers = logger.handlers
        logger.propagate = False

    def log_uncaught(exc_type, exc, tb):
        logger.error("%s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))

    sys.excepthook = log_uncaught
    return logger
