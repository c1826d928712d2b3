"""Notebook runs: workflow notebooks executed with parameters, now or on a schedule.

A service.
"""

__all__: list[str] = []
