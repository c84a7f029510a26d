"""Pelihara agent: runs the checks of checks.yaml and reports their results."""

__version__ = "0.1.0"
