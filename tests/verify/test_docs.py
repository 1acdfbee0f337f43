r"""The examples of docs/verify.md (and the --help epilog) are paste-safe in bash:
LaTeX with backslashes is single-quoted, and the argument bash passes (POSIX
quoting, as shlex reads it) is exactly the claim the example's output shows."""
import pathlib
import re
import shlex

import pytest

from symdl.verify import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "verify.md"


def examples():
    """[(command, output lines)] of the ```text blocks."""
    out = []
    for block in re.findall(r"```text\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S):
        lines = block.splitlines()
        if lines and lines[0].startswith("$ symdl verify"):
            out.append((lines[0][2:], lines[1:]))
    return out


def _double_quoted_backslash(cmd: str) -> bool:
    """A backslash inside "..." (bash would eat the one of \\\\)."""
    state = None
    for ch in cmd:
        if state is None and ch in "'\"":
            state = ch
        elif state == ch:
            state = None
        elif state == '"' and ch == "\\":
            return True
    return False


def test_the_quoting_check_can_fail():
    assert _double_quoted_backslash('symdl verify "\\mathrm{ReLU}\'(x) = 1"')
    assert not _double_quoted_backslash("symdl verify '\\tanh(x) = 1' --assume \"x>0\"")


def test_docs_have_examples():
    assert len(examples()) >= 20
    assert "not wired" not in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("cmd,lines", examples(), ids=lambda x: x[:50] if isinstance(x, str) else "")
def test_doc_example_is_paste_safe(cmd, lines):
    assert not _double_quoted_backslash(cmd), f"double quotes around LaTeX: {cmd}"
    argv = shlex.split(cmd)[2:]
    claims = [ln[len("claim:    "):] for ln in lines if ln.startswith("claim:    ")]
    if "--spec" in argv or "--file" in argv or not claims:
        return
    opts_with_value = {"--assume", "--timeout", "--spec", "--forward", "--derivative", "--variant",
                       "--file"}
    positional, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in opts_with_value:
            skip = True
        elif a not in ("-q", "--quiet", "--json", "--sympy"):
            positional.append(a)
    assert positional == [claims[0]], (cmd, positional, claims)


def test_help_epilog_is_paste_safe():
    for line in cli.EPILOG.splitlines():
        if line.strip().startswith("symdl verify"):
            assert not _double_quoted_backslash(line), line
            shlex.split(line.split("  (")[0])
