"""Pelihara collector: receives check results and tracks maintenance cases."""

__version__ = "0.1.0"
