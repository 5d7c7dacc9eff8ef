"""Bureaus (tenants), users, roles, sessions and the access checks every route and service uses."""
