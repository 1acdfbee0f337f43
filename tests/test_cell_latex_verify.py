"""`symdl latex <cell> --steps` and `symdl verify --spec <cell>` on the notes' equations."""
from __future__ import annotations

from symdl.cli import main


def test_latex_lstm_cell_steps(capsys):
    assert main(["latex", "lstm_cell", "--steps"]) == 0
    out = capsys.readouterr().out
    assert r"C_{t} = C_{t-1} f_{t} + \tilde{C}_t i_{t}" in out
    assert r"\frac{\partial C_{t}}{\partial a_{f,t}} = C_{t-1} f_{t} \left(1 - f_{t}\right)" in out
    assert out.count(r"\frac{\partial") == 10            # 2 outputs x 5 inputs
    assert r"\bar{C_{t-1}} =" in out                     # the kernel's VJP


def test_verify_gru_direction(capsys):
    notes = r"h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde{h}_t"      # seed 001 eq 100
    flipped = r"h_t = (1 - z_t) \odot \tilde{h}_t + z_t \odot h_{t-1}"   # torch's direction
    assert main(["verify", "--spec", "gru_cell", "--variant", "variant=cho", notes]) == 0
    assert main(["verify", "--spec", "gru_cell", "--variant", "variant=cho", flipped]) == 1
    out = capsys.readouterr().out
    assert "refuted" in out
    assert main(["verify", "--spec", "gru_cell", flipped]) == 0              # torch's GRU (reset_after)
    assert main(["verify", "--spec", "lstm_cell", r"h_t = o_t \odot \tanh(C_t)"]) == 0   # eq 106
    assert main(["verify", "--spec", "lstm_cell", r"h_t = o_t \odot \tanh(C_{t-1})"]) == 1
