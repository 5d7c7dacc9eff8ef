"""The broker port: how work queued in the outbox reaches the processes that do it.

A domain registers a consumer for a subject (``@consumer("intake.report")``) and hands work over with
``dispatch`` from its outbox handler. Two implementations:

* **in-process** (embedded default, ``broker_url`` empty): ``dispatch`` runs the consumer at once, in the outbox
  runner's session — the outbox row is the durable record, its retries the redelivery;
* **NATS JetStream** (``broker_url = nats://…``, production): ``dispatch`` publishes to a durable stream with
  the message id as JetStream's de-duplication key (a re-published outbox row is stored once), and
  ``chengguan consume`` workers pull with explicit acks. Delivery is at least once; consumers are idempotent
  (intake processes a report once, whatever delivers it twice), so a worker killed between its commit and its
  ack costs a redelivery, never a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from chengguan.config import Settings

Consumer = Callable[[Session, dict[str, Any]], None]
_consumers: dict[str, Consumer] = {}


def consumer(subject: str) -> Callable[[Consumer], Consumer]:
    """Register the function that does the work published on ``subject`` (one per subject)."""

    def _register(fn: Consumer) -> Consumer:
        _consumers[subject] = fn
        return fn

    return _register


def consumer_for(subject: str) -> Consumer:
    fn = _consumers.get(subject)
    if fn is None:
        raise LookupError(f"no consumer registered for {subject!r}")
    return fn


_publisher: Callable[[str, dict[str, Any], str], None] | None = None


def configure(settings: Settings) -> None:
    """Choose the broker for this process from the settings (called by the app, the worker and the CLI)."""
    global _publisher
    if settings.broker_url.startswith("nats://"):
        from chengguan.jobs import jetstream

        client = jetstream.shared_client(settings.broker_url, prefix=settings.broker_prefix)
        _publisher = client.publish
    else:
        _publisher = None


def dispatch(session: Session, subject: str, payload: dict[str, Any], *, msg_id: str) -> None:
    """Hand ``payload`` to the consumer of ``subject``: now, in this session (in-process), or through the
    durable stream (JetStream). Raises when the hand-over fails, so the outbox retries it."""
    if _publisher is None:
        consumer_for(subject)(session, payload)
    else:
        _publisher(subject, payload, msg_id)
