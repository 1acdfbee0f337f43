r"""``verify --spec NAME`` for losses, optimizer rules and schedules
(symdl/verify/families.py): the notes' equations against the spec, catalog
and a user's ``--spec-file`` (examples/researcher: log-cosh loss, centered
Adam).  Rows: (source, spec, claim, assume, expected) as in test_claims.py."""
import argparse
import io
from pathlib import Path

import pytest

from symdl.verify import HOLDS, HOLDS_NUM, REFUTED, UNDECIDED, cli, verify_claim, verify_spec

E, R, U = "holds", "refuted", "undecided"
RESEARCHER = Path(__file__).resolve().parents[2] / "examples" / "researcher" / "my_specs.py"

COS = r"\eta_t = \eta_{min} + \frac{1}{2}(\eta_{max} - \eta_{min})\left(1 + \cos\left(\frac{T_{cur}}{T_{max}}\pi\right)\right)"

ROWS = [
    # ---- schedules: seed 003 week 4 (line 781-782) and week 5 (line 1000, SGDR's form) ------
    ("seed 003 line 782: inverse time decay", "inverse_time", r"\eta = \frac{\eta_0}{1+kt}", "", E),
    ("seed 003 line 781 (typo: e missing)", "exponential", r"\eta = \eta_0^{-kt}", "", R),
    ("seed 003 line 781 (corrected, gamma = e^{-k})", "exponential", r"\eta = \eta_0 e^{-kt}", "", E),
    ("exponential in torch's gamma", "exponential", r"\eta_t = \eta_0 \gamma^t", "", E),
    ("seed 003 week 5: cosine annealing (SGDR eq. 5)", "cosine_annealing", COS, "", E),
    ("cosine annealing without the 1/2", "cosine_annealing",
     COS.replace(r"\frac{1}{2}", ""), "", R),
    ("cosine annealing to 0 (eta_min default)", "cosine_annealing",
     r"\eta_t = \frac{\eta_0}{2}\left(1 + \cos\left(\frac{\pi t}{T_{max}}\right)\right)", "", E),
    ("cosine annealing with sin (wrong)", "cosine_annealing",
     r"\eta_t = \frac{\eta_0}{2}\left(1 + \sin\left(\frac{\pi t}{T_{max}}\right)\right)", "", R),
    ("seed 003 week 5: warm restart, T_cur = t mod T_0", "warm_restarts",
     COS.replace("T_{max}", "T_0"), "", E),
    ("warm restart read as cosine over t (no restart)", "warm_restarts",
     COS.replace("T_{cur}", "t").replace("T_{max}", "T_0"), "", R),
    ("inverse time with k t^2 (wrong)", "inverse_time", r"\eta = \frac{\eta_0}{1+kt^2}", "", R),
    ("seed 003 line 1000: step decay", "step", r"\eta_t = \eta_0 \gamma^{\operatorname{floor}(t/s)}", "", E),
    ("step decay without the floor (that is exponential decay)", "step",
     r"\eta_t = \eta_0 \gamma^{t/s}", "", R),
    ("polynomial decay", "polynomial", r"\eta_t = \eta_0\left(1 - \frac{\min(t, T)}{T}\right)^p", "", E),
    # ---- catalog rules --------------------------------------------------------------------
    ("seed 003 eq 18: Adam's first moment", "adam", r"m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t", "", E),
    ("Adam's second moment without the square", "adam", r"v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t", "", R),
    ("seed 003 eq 18: Adam's step", "adam",
     r"\theta_{t+1} = \theta_t - \frac{\eta}{\sqrt{\hat{v}_t} + \epsilon}\hat{m}_t", "", E),
    ("Adam's step with eps inside the root (torch: outside)", "adam",
     r"\theta_{t+1} = \theta_t - \frac{\eta}{\sqrt{\hat{v}_t + \epsilon}}\hat{m}_t", "", R),
    ("SGD", "sgd", r"w_{t+1} = w_t - \eta g_t", "", E),
    # ---- a user's loss and rule (examples/researcher/my_specs.py) ---------------------------
    ("user loss: log-cosh term", "log_cosh_loss", r"\ell(x, y) = \log(\cosh(x - y))", "", E),
    ("user loss: derivative", "log_cosh_loss", r"\frac{\partial \ell}{\partial x} = \tanh(x - y)", "", E),
    ("user loss: derivative wrt the target", "log_cosh_loss",
     r"\frac{\partial \ell}{\partial y} = \tanh(y - x)", "", E),
    ("user loss: derivative with the sign flipped", "log_cosh_loss",
     r"\frac{\partial \ell}{\partial \hat{y}} = \tanh(y - \hat{y})", "", R),
    ("user rule: centered Adam's first moment", "centered_adam",
     r"m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t", "", E),
    ("user rule: the running mean of g at beta_2", "centered_adam",
     r"m_{g,t} = \beta_2 m_{g,t-1} + (1 - \beta_2) g_t", "", E),
    ("user rule: the running mean of g at beta_1 (wrong)", "centered_adam",
     r"m_{g,t} = \beta_1 m_{g,t-1} + (1 - \beta_1) g_t", "", R),
    ("user rule: the step", "centered_adam",
     r"\theta_t = \theta_{t-1} - \eta\frac{m_t/(1 - \beta_1^t)}{\sqrt{\max(s_t - m_{g,t}^2, 0)/(1 - \beta_2^t)} + \epsilon}",
     "", E),
    ("user rule: the step without the centering", "centered_adam",
     r"\theta_t = \theta_{t-1} - \eta\frac{m_t/(1 - \beta_1^t)}{\sqrt{s_t/(1 - \beta_2^t)} + \epsilon}", "", R),
]


@pytest.fixture(scope="module", autouse=True)
def researcher_specs():
    from symdl.codegen.user_specs import use_spec_file

    assert use_spec_file(str(RESEARCHER), "centered_adam") is None


def _ok(expected, v):
    return {E: v.status in (HOLDS, HOLDS_NUM), R: v.status == REFUTED, U: v.status == UNDECIDED}[expected]


@pytest.mark.parametrize("source,spec,claim,assume,expected", ROWS,
                         ids=[f"{i:02d}-{r[0][:40]}" for i, r in enumerate(ROWS)])
def test_family_claims(source, spec, claim, assume, expected):
    v = verify_claim(claim, assume=assume, spec=spec, timeout=10)
    assert _ok(expected, v), (f"{source}: expected {expected}, got {v.status}\nreading: {v.reading}\n"
                              f"reason: {v.reason}\nnotes: {v.notes}")
    assert any(n.startswith("compared with") for n in v.notes)
    if v.status == REFUTED:
        assert v.counterexample and v.counterexample["lhs"] != v.counterexample["rhs"]


def test_refuted_schedule_says_why():
    v = verify_claim(r"\eta = \eta_0^{-kt}", spec="exponential")
    assert v.status == REFUTED and v.diagnosis == "at t = 0 the claim gives 1, the schedule eta_0"
    v = verify_claim(r"\eta = 2\eta_0 e^{-kt}", spec="exponential")
    assert v.status == REFUTED and "2 times" in v.diagnosis


def test_forward_and_derivative_options():
    out = verify_spec("log_cosh_loss", forward=r"\log(\cosh(x - y))", derivative=r"\tanh(x - y)")
    assert [v.status for v in out] == [HOLDS, HOLDS]
    (v,) = verify_spec("huber_loss", derivative=r"\begin{cases} x - y & |x - y| < \delta \\ \delta\,\mathrm{sign}(x - y) & \text{otherwise}\end{cases}")
    assert v.status in (HOLDS, HOLDS_NUM), v.reason
    (v,) = verify_spec("cosine_annealing", forward=r"\frac{\eta_0}{2}(1 + \cos(\pi t / T))")
    assert v.status == HOLDS


@pytest.mark.parametrize("spec,claim,match", [
    ("adam", r"q_t = m_t", "names nothing of adam"),
    ("adam", r"m_t = \beta_1 m_{t-1} + \kappa g_t", "kappa is not a symbol of adam"),
    ("adam", r"m_t \beta_1", "expected '='"),
    ("cross_entropy", r"\ell = x", "class loss"),
])
def test_undecided_with_a_reason(spec, claim, match):
    v = verify_claim(claim, spec=spec)
    assert v.status == UNDECIDED and match in v.reason, v.reason


def _cli(*argv):
    parser = argparse.ArgumentParser(prog="symdl")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["verify", *argv])
    out = io.StringIO()
    return args.func(args, out=out), out.getvalue()


def test_cli_spec_file_loss_and_rule():
    f = str(RESEARCHER)
    code, out = _cli("--spec", "log_cosh_loss", "--spec-file", f, "--derivative", r"\tanh(x - y)")
    assert code == 0 and "holds" in out
    code, out = _cli("--spec", "log_cosh_loss", "--spec-file", f, "--derivative", r"\tanh(y - x)")
    assert code == 1 and "refuted" in out
    code, out = _cli("--spec", "centered_adam", "--spec-file", f, r"s_t = \beta_2 s_{t-1} + (1 - \beta_2) g_t^2")
    assert code == 0, out
    code, out = _cli("--spec", "centered_adam", "--spec-file", f, r"s_t = \beta_2 s_{t-1} + (1 - \beta_2) g_t")
    assert code == 1, out
    code, out = _cli("--spec", "cosine_annealing", COS, "--json")
    assert code == 0 and '"verdict": "holds"' in out


def test_rule_variant_and_state_at_the_next_step():
    v = verify_claim(r"v_{max,t} = \max(v_{max,t-1}, v_t)", spec="adam", variant={"amsgrad": "True"})
    assert v.status == HOLDS, v.reason
    v = verify_claim(r"\theta_{t+1} = m_{t+1}", spec="adam")
    assert v.status == UNDECIDED and "not defined by one step" in v.reason
