"""The documentation site, generated from the specs (``symdl docs``).

``symdl docs generate [--check]`` writes (or checks) one catalog page per
registered spec under ``docs/catalog/``: its derivation exactly as
``symdl latex`` prints it (definition, derivatives, simplified and stable
forms with the rule names, kink conventions), parameters, source, torch
equivalent, the measured worst error of its kernels and its generated module.
``symdl docs build`` also draws the plots (matplotlib, SVG), installs MathJax
from the npm registry into the site and runs ``mkdocs build --strict``.

Needs the ``docs`` extra (``pip install -e '.[docs]'``); imports SymPy.
"""
from __future__ import annotations

__all__ = ["register"]


def register(sub) -> None:
    """Add the ``docs`` subcommand to the ``symdl`` parser (like ``train``)."""
    from .build import register as _register

    _register(sub)
