"""Numba kernels: plain functions over arrays. The Python layer validates and calls them."""
