"""Districts, streets (街道), communities (社区), unit grids (单元网格): codes, boundaries, reverse geocoding."""
