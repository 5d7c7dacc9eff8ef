"""Photos and videos, content-addressed (SHA-256): checks, storage, metadata; reused by every domain."""
