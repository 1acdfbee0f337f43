import os

import pytest

REPORTS = []


@pytest.fixture(scope="session")
def accuracy_reports():
    return REPORTS


def pytest_terminal_summary(terminalreporter):
    if not REPORTS:
        return
    tr = terminalreporter
    tr.section("worst relative error per kernel (vs mpmath, 50 digits)")
    rows = sorted(REPORTS, key=lambda r: (r.dtype, -r.worst_rel))
    for r in rows:
        tr.write_line(f"{r.dtype:8s} {r.which:10s} {r.name:38s} {r.worst_rel:9.2e}  at x={r.worst_at:.6g}")
    path = os.environ.get("SYMDL_ACCURACY_REPORT")
    if path:
        with open(path, "w") as f:
            for r in rows:
                f.write(f"{r.dtype}\t{r.which}\t{r.name}\t{r.worst_rel:.3e}\t{r.worst_at!r}\n")
