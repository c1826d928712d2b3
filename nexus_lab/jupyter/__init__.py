"""NEXUS Lab inside Jupyter: the server extension (the REST API under ``/nexus/api``
that the JupyterLab sidebar reads, and ``/nexus/metrics``), and the ``%nexus`` magics.

A surface: it parses a request, calls a service as the acting user, and answers.
"""
