"""Text and JSON output of verdicts."""
from __future__ import annotations

import json

from .check import HOLDS, HOLDS_NUM, REFUTED, UNDECIDED, Verdict

_MARK = {HOLDS: "✓", HOLDS_NUM: "≈", REFUTED: "✗", UNDECIDED: "?"}


def _summary(v: Verdict) -> str:
    if v.status == HOLDS:
        return f"holds — proved symbolically ({v.method})"
    if v.status == HOLDS_NUM:
        return f"holds numerically — {v.method}"
    if v.status == REFUTED:
        ce = v.counterexample or {}
        if ce.get("point"):
            pt = ", ".join(f"{k} = {val}" for k, val in ce["point"].items())
            s = (f"refuted — at {pt}: left side = {ce.get('lhs')}, right side = {ce.get('rhs')} "
                 f"(difference {ce.get('difference')})")
        else:
            s = (f"refuted — left side = {ce.get('lhs')}, right side = {ce.get('rhs')} "
                 f"(difference {ce.get('difference')}, {v.method})")
        if ce.get("component"):
            s += f"; failing component: {ce['component']}"
        return s
    return f"undecided — {v.reason}"


def format_text(v: Verdict, *, verbose: bool = True) -> str:
    lines = []
    if v.location:
        lines.append(f"{v.location}: {v.claim}")
    else:
        lines.append(f"claim:    {v.claim}")
    if v.reading:
        lines.append(f"reading:  {v.reading}")
    if v.parse_error:
        for ln in v.parse_error["caret"].splitlines():
            lines.append(f"          {ln}")
    lines.append(f"verdict:  {_summary(v)}")
    if v.diagnosis:
        lines.append(f"why:      {v.diagnosis}")
    if verbose:
        for n in v.notes:
            lines.append(f"note:     {n}")
    return "\n".join(lines)


def format_line(v: Verdict) -> str:
    """One line per claim (the --file report)."""
    loc = v.location or "-"
    claim = " ".join(v.claim.split())
    if len(claim) > 70:
        claim = claim[:67] + "..."
    detail = _summary(v).split(" — ", 1)[-1]
    if v.status == HOLDS:
        detail = "proved symbolically"
    elif v.status == HOLDS_NUM:
        detail = f"{v.points} points agree"
    if v.status in (HOLDS, HOLDS_NUM) and "; except where" in v.method:
        detail += v.method[v.method.index("; except where"):]
    if v.parse_error:
        detail = f"{v.parse_error['message']} (column {v.parse_error['column']})"
    if v.diagnosis:
        detail += f"; {v.diagnosis}"
    return f"{loc}: {_MARK[v.status]} {v.status}: {claim}  [{detail}]"


def format_file_report(verdicts: list) -> str:
    lines = [format_line(v) for v in verdicts]
    counts = {}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    order = [HOLDS, HOLDS_NUM, REFUTED, UNDECIDED]
    summary = ", ".join(f"{counts[s]} {s}" for s in order if s in counts) or "no marked claims"
    lines.append(f"{len(verdicts)} claims: {summary}")
    return "\n".join(lines)


def to_json(obj, indent=2) -> str:
    if isinstance(obj, Verdict):
        obj = obj.to_dict()
    elif isinstance(obj, list):
        obj = [o.to_dict() if isinstance(o, Verdict) else o for o in obj]
    return json.dumps(obj, indent=indent, ensure_ascii=False, default=str)
