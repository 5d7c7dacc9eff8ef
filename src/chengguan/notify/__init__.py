"""Notifications to people (in-app now; SMS / push / e-mail adapters behind the same port later)."""
