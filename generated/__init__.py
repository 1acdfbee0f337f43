"""Rendered kernels (symdl.generated.*). Every module here is written by
``symdl generate``; never edit them by hand."""
