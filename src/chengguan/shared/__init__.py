"""Shared kernel: errors, clock, geo value types and coordinate conversion. Imports nothing internal."""
