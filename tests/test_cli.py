"""The symdl command line: list, latex, errors."""
import json
import subprocess
import sys

import symdl.specs as S
from symdl.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "gelu" in out and "approximate='none'" in out and "[torch: gelu]" in out


def test_list_json_and_family(capsys):
    assert main(["list", "--family", "activation", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"relu", "prelu", "swish"}
    prelu = next(r for r in rows if r["name"] == "prelu")
    assert prelu["learnable"] == ["weight"]


def test_list_unknown_family(capsys):
    assert main(["list", "--family", "activations"]) == 2
    assert "activation" in capsys.readouterr().err


def test_latex_shows_definition_derivative_stable_forms(capsys):
    assert main(["latex", "softplus"]) == 0
    out = capsys.readouterr().out
    assert r"\text{definition:}" in out and r"\text{derivative:}" in out
    assert r"\operatorname{softplus}" in out and r"\sigma" in out
    assert main(["latex", "elu"]) == 0
    assert "stabilization rules applied: expm1" in capsys.readouterr().out


def test_latex_steps_walks_the_chain_rule(capsys):
    assert main(["latex", "gelu", "--steps"]) == 0
    out = capsys.readouterr().out
    assert "product rule" in out and "chain rule" in out and r"\operatorname{erf}" in out
    assert "% result" in out
    assert "variant: approximate='tanh'" in out


def test_latex_kink_convention(capsys):
    assert main(["latex", "leaky_relu"]) == 0
    out = capsys.readouterr().out
    assert r"\text{convention at the kink } x = 0" in out and r"negative_{slope}" in out


def test_unknown_spec_suggests(capsys):
    assert main(["latex", "sigmod"]) == 2
    assert "sigmoid" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "symdl", "list", "--family", "activation", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    assert [row["name"] for row in json.loads(r.stdout)] == [s.name for s in S.all_specs("activation")]


def test_list_and_latex_cover_the_reduction_families(capsys):
    assert main(["list", "--family", "loss"]) == 0
    assert "cross_entropy" in capsys.readouterr().out
    assert main(["latex", "log_softmax", "--steps"]) == 0
    assert "cancels" in capsys.readouterr().out
