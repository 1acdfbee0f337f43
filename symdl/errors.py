"""Errors with messages a user can act on (no SymPy import here)."""
from __future__ import annotations

import difflib


class SymdlError(Exception):
    """Base class of symdl's own errors."""


class UnknownNameError(SymdlError, KeyError):
    """An unknown spec name; the message lists the closest known names."""

    def __init__(self, kind: str, name: str, known):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        if not close:
            close = [k for k in known if name.lower() in k or k in name.lower()][:5]
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        msg = f"unknown {kind} {name!r}{hint} (`symdl list` shows all {len(known)})"
        super().__init__(msg)
        self.name, self.close = name, close

    def __str__(self):  # KeyError would repr() the message
        return self.args[0]


class ParameterError(SymdlError, TypeError):
    """An unknown or ill-typed parameter of a spec."""


class ShapeError(SymdlError, ValueError):
    """Array shapes or dtypes that do not fit together."""


class ModelFileError(SymdlError, ValueError):
    """A file that is not a (readable, consistent) symdl model or checkpoint."""
