"""chengguan: the platform a city-management law-enforcement bureau (城管执法大队) runs every day."""

__version__ = "0.1.0"
