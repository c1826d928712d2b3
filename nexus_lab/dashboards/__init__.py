"""Dashboards: the Panel views of every point of view.

A surface.
"""

__all__: list[str] = []
