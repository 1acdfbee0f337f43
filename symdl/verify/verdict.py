"""Verdicts: the four statuses and the record of one checked claim."""
from __future__ import annotations

from dataclasses import dataclass, field

HOLDS = "holds"
HOLDS_NUM = "holds numerically"
REFUTED = "refuted"
UNDECIDED = "undecided"


@dataclass
class Verdict:
    status: str
    claim: str = ""
    reading: str = ""
    method: str = ""
    reason: str = ""
    points: int = 0
    skipped: int = 0
    worst: float | None = None
    counterexample: dict | None = None
    location: str | None = None
    parse_error: dict | None = None
    notes: list = field(default_factory=list)
    elapsed: float = 0.0
    undefined: str | None = None     # the subterm with no value, when that decided it
    diagnosis: str | None = None     # why a refuted claim about a spec fails, when known

    @property
    def exit_code(self) -> int:
        if self.status in (HOLDS, HOLDS_NUM):
            return 0
        if self.status == REFUTED:
            return 1
        return 2

    @property
    def holds(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict:
        return {
            "claim": self.claim, "reading": self.reading, "verdict": self.status,
            "exit_code": self.exit_code, "method": self.method, "reason": self.reason,
            "points": self.points, "skipped": self.skipped, "worst_difference": self.worst,
            "counterexample": self.counterexample, "location": self.location,
            "parse_error": self.parse_error, "undefined": self.undefined,
            "diagnosis": self.diagnosis,
            "notes": list(self.notes),
            "elapsed": round(self.elapsed, 3),
        }
