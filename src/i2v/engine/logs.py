"""DBOS's log with a cancelled workflow told in INFO lines, not an ERROR with a traceback."""

from __future__ import annotations

import logging

from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError

from i2v.engine.workflow import JobCancelled

DBOS_LOGGER = "dbos"
# A user's cancel surfaces as these: our render step stops (JobCancelled), and the job's
# workflow, cancelled by the queue, ends with DBOS's own errors.
CANCELLED = (JobCancelled, DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError)
# Said by the execution a cancel took the workflow from, and by one whose twin elsewhere won a
# race for it: either way DBOS waits for the recorded outcome, which nothing needs to act on.
NOT_OWNED = "is no longer owned by this execution"


class CancelIsInfo(logging.Filter):
    """DBOS logs every workflow that raised as an ERROR; a cancel is routine, so INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, CANCELLED):
            record.msg, record.args = "workflow cancelled: %s", (exc,)
            record.exc_info, record.exc_text = None, None
        elif not (record.levelno == logging.WARNING and NOT_OWNED in record.getMessage()):
            return True
        record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return logging.getLogger(DBOS_LOGGER).isEnabledFor(logging.INFO)


def quiet_cancels() -> None:
    """Install the filter on DBOS's logger, once however often an engine starts."""
    logger = logging.getLogger(DBOS_LOGGER)
    if not any(isinstance(existing, CancelIsInfo) for existing in logger.filters):
        logger.addFilter(CancelIsInfo())
