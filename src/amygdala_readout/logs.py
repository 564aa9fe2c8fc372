"""Logging for workflow jobs: everything goes to the job's log file and to the terminal."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager

from .errors import UserError


@contextmanager
def job_logging(log_path: str):
    """Send log records to ``log_path`` and stderr; a UserError ends the job with its one-line message."""
    handlers: list[logging.Handler] = [logging.FileHandler(log_path, mode="w"), logging.StreamHandler(sys.stderr)]
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", handlers=handlers, force=True)
    logging.captureWarnings(True)
    log = logging.getLogger("amygdala_readout")
    try:
        yield log
    except UserError as err:
        log.error("%s", err)
        sys.exit(1)
    except Exception:
        log.exception("job failed")
        raise
