"""Outbox of side effects (run only after commit), the worker that claims them, and the scheduler."""
