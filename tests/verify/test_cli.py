r"""The ``verify`` subcommand: exit codes, --json, --file, --spec."""
import argparse
import io
import json
import subprocess
import sys

import pytest

from symdl.verify import cli


def run(*argv):
    parser = argparse.ArgumentParser(prog="symdl")
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(["verify", *argv])
    out = io.StringIO()
    code = args.func(args, out=out)
    return code, out.getvalue()


def test_register_sets_func():
    parser = argparse.ArgumentParser(prog="symdl")
    sub = parser.add_subparsers(dest="command")
    p = cli.register(sub)
    assert isinstance(p, argparse.ArgumentParser)
    args = parser.parse_args(["verify", "x = x"])
    assert args.func is cli.run


def test_holds_exit_0():
    code, out = run(r"\tanh(x) = \frac{2}{1+e^{-2x}} - 1")
    assert code == 0
    assert "reading:  tanh(x) = 2/(1 + e^(-2*x)) - 1" in out
    assert "verdict:  holds" in out


def test_holds_numerically_exit_0():
    code, out = run(r"|x| = \begin{cases} x & x > 0 \\ -x & x < 0 \end{cases}")
    assert code == 0
    assert "holds numerically" in out and "points agree" in out


def test_refuted_exit_1_with_counterexample():
    code, out = run(r"\mathrm{softsign}'(x) = \frac{1}{(1+x)^2}")
    assert code == 1
    assert "refuted — at x = " in out and "left side" in out and "right side" in out


def test_unparsable_exit_2_with_caret():
    code, out = run(r"\frac{1}{2 = x")
    assert code == 2
    assert "cannot parse" in out
    assert "^" in out


def test_json():
    code, out = run(r"\frac{d}{dx}\mathrm{softplus}(x) = \sigma(x)", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["verdict"] == "holds" and d["exit_code"] == 0
    assert d["reading"] == "d/dx[softplus(x)] = sigmoid(x)"
    code, out = run(r"\frac{x}{1+x} = \mathrm{softsign}(x)", "--json")
    d = json.loads(out)
    assert code == 1 and d["verdict"] == "refuted"
    assert set(d["counterexample"]) >= {"point", "lhs", "rhs"}
    code, out = run("x +", "--json")
    d = json.loads(out)
    assert code == 2 and d["parse_error"]["column"] == 4


def test_assume_and_sympy_syntax():
    code, _ = run(r"\sqrt{a^2} = a", "--assume", "a>0")
    assert code == 0
    code, _ = run(r"\sqrt{a^2} = a")
    assert code == 1
    code, out = run("--sympy", "diff(tanh(x), x) == 1 - tanh(x)**2")
    assert code == 0


def test_spec_derivative_and_forward():
    code, out = run("--spec", "softsign", "--derivative", r"\frac{1}{(1+|x|)^2}")
    assert code == 0 and "softsign'(x)" in out
    code, out = run("--spec", "softsign", "--derivative", r"\frac{1}{(1+x)^2}")
    assert code == 1
    code, out = run("--spec", "sigmoid", "--derivative", "f'(x) = f(x)(1 - f(x))")
    assert code == 0
    code, out = run("--spec", "bent_identity", "--forward", r"\sqrt{x^2+1} - 1 + x")
    assert code == 1
    code, out = run("--spec", "gelu", "--variant", "approximate=tanh", "--forward",
                    r"0.5x(1 + \tanh[\sqrt{2/\pi}(x + 0.045x^3)])")
    assert code == 1
    code, out = run("--spec", "gelu", "--variant", "approximate=tanh", "--forward",
                    r"0.5x(1 + \tanh[\sqrt{2/\pi}(x + 0.044715x^3)])", "--derivative",
                    r"f'(x) = \frac{d}{dx} 0.5x(1 + \tanh[\sqrt{2/\pi}(x + 0.044715x^3)])", "--json")
    assert code == 0
    assert [d["verdict"] for d in json.loads(out)] == ["holds", "holds"]


def test_unknown_spec_lists_close_names():
    code, out = run("--spec", "softplux", "--derivative", "1")
    assert code == 2
    assert "softplus" in out


NOTES = r"""# Week 3 notes

The sigmoid derivative:

$$\sigma'(x) = \sigma(x)(1 - \sigma(x))$$ % verify

An unmarked equation is not checked:

$$\frac{x}{1+x} = \mathrm{softsign}(x)$$

The softsign, as written in class:
$$ % verify
\frac{x}{1 + x} = \mathrm{softsign}(x)
$$

```verify
\tanh(x) = 2\sigma(2x) - 1
\frac{d}{dp} \sqrt{p} = \frac{1}{2\sqrt{p}}   % verify assume: p>0
\frac{1}{2 = 1
```
"""


def test_file_report(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text(NOTES)
    code, out = run("--file", str(path))
    lines = out.strip().splitlines()
    assert code == 1                      # one claim is refuted
    assert lines[0].startswith(f"{path}:5: ✓ holds")
    assert lines[1].startswith(f"{path}:12: ✗ refuted")
    assert lines[2].startswith(f"{path}:17: ✓ holds")
    assert lines[3].startswith(f"{path}:18: ")
    assert " holds" in lines[3]
    assert lines[4].startswith(f"{path}:19: ? undecided") and "column" in lines[4]
    assert lines[5].startswith("5 claims:")


def test_file_json_and_missing_file(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("```verify\nx + x = 2x\n```\n")
    code, out = run("--file", str(path), "--json")
    d = json.loads(out)
    assert code == 0 and d["claims"][0]["location"] == f"{path}:2"
    code, out = run("--file", str(tmp_path / "nope.md"))
    assert code == 2 and "cannot read" in out


def test_no_claim_is_exit_2():
    code, out = run()
    assert code == 2


@pytest.mark.parametrize("argv,code", [
    ([r"x + x = 2x"], 0),
    ([r"x + x = 3x"], 1),
    ([r"x + x ="], 2),
])
def test_python_dash_m(argv, code):
    r = subprocess.run([sys.executable, "-m", "symdl.verify", *argv], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def test_file_bracket_display_and_block_assume(tmp_path):
    path = tmp_path / "n.md"
    path.write_text("intro\n\\[ \\sqrt{a^2} = a \\] % verify assume: a > 0\n\n"
                    "```verify\n% assume: a < 0\n\\sqrt{a^2} = -a\n$$\\sqrt{a^2} = a$$\n```\n")
    from symdl.verify import verify_file

    vs = verify_file(path)
    assert [(v.location.rsplit(":", 1)[1], v.status) for v in vs] == [
        ("2", "holds"), ("6", "holds"), ("7", "refuted")]


def test_help_runs():
    r = subprocess.run([sys.executable, "-m", "symdl.verify", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "--assume" in r.stdout and "exit codes" in r.stdout
