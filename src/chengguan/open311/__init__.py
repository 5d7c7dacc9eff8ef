"""Open311 GeoReport v2 at /open311/v2/: the standard door for 311 apps, on top of intake."""
