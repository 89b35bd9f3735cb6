"""
How a job's Celery task meets an error, written once for every task.

- A connection error (the database restarting, a dropped connection, a deadlock, a lock
  timeout) is retried after a delay that grows exponentially, with full jitter; once
  out of retries, the task gives up.
- Past its soft time limit, the step's transaction has been rolled back: the task gives
  up with the message it names for that case.
- Any other error gives up with its type and text. A job's task raises it again for
  Celery to log; a chunk's logs it and returns, so that its chord still completes.

Giving up records the failure where the operator reads it (the job, or the chunk), by
the function the task passes.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

RETRYABLE = (OperationalError, InterfaceError)

GiveUp = Callable[[str], object]


@contextmanager
def handled(
    task: Task, give_up: GiveUp, time_limit: str | None = None, prefix: str = "", reraise: bool = True
) -> Iterator[None]:
    """
    Run the body of ``task``, retrying connection errors and giving up once on any other.

    ``give_up(reason)`` records the failure; ``time_limit`` is the reason past the soft
    time limit (None: reported like any other error); ``prefix`` goes before the type and
    text of an unexpected error; ``reraise`` raises that error again after recording it.
    """
    try:
        yield
    except RETRYABLE as exc:
        _retry_or_give_up(task, exc, give_up)
    except Exception as exc:
        if isinstance(exc, SoftTimeLimitExceeded) and time_limit is not None:
            give_up(time_limit)
            return
        reason = f"{prefix}{type(exc).__name__}: {exc}"
        if reraise:
            give_up(reason)
            raise
        logger.exception("%s%s failed", task.name, tuple(task.request.args or ()))
        give_up(reason)


def _retry_or_give_up(task: Task, exc: Exception, give_up: GiveUp) -> None:
    """Retry ``task`` after a growing delay, or call ``give_up(reason)`` once out of retries."""
    # max_retries None is Celery's "retry for ever"; settings.py gives every task a number.
    if task.max_retries is None or task.request.retries < task.max_retries:
        countdown = get_exponential_backoff_interval(
            factor=settings.OPSDASH_TASK_RETRY_BACKOFF,
            retries=task.request.retries,
            maximum=settings.OPSDASH_TASK_RETRY_BACKOFF_MAX,
            full_jitter=True,
        )
        logger.warning("%s: %s; retrying in %ss", task.name, exc, countdown)
        raise task.retry(exc=exc, countdown=countdown)
    give_up(f"Gave up after {task.max_retries} retries: {exc}")
