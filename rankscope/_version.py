"""The package version, in a leaf module (the run and the result import it without importing the package)."""

__version__ = "0.1.0"
