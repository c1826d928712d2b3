"""NEXUS Lab: analytics kernels for financial examination, on CPU or GPU."""
__version__ = "0.1.0"
