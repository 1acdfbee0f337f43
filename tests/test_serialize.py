"""Model files: atomic writes that leave nothing behind, the user's umask, and
clear errors for files that are not symdl models (no raw zipfile/JSON errors,
no allocation a file cannot back)."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symdl.nn as nn
from symdl.errors import ModelFileError
from symdl.nn.serialize import atomic_savez, clean_stale_temporaries


def _model():
    nn.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.Activation("relu"), nn.Linear(3, 2))


def test_saved_file_uses_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        p = _model().save(tmp_path / "m.npz")
        assert p.stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        q = _model().save(tmp_path / "q.npz")
        assert q.stat().st_mode & 0o777 == 0o600
        os.chmod(p, 0o640)                          # replacing a file keeps its mode
        _model().save(p)
        assert p.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "big.npz"
    code = textwrap.dedent(f"""
        import os, numpy as np
        from symdl.nn import serialize
        real = np.savez
        def slow(f, **a):
            real(f, **a)
            f.flush()
            print("written", flush=True)
            import time; time.sleep(60)
        serialize.np.savez = slow
        serialize.atomic_savez({str(target)!r}, {{"a": np.zeros(100_000)}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and left[0].stat().st_size > 100_000
    # a temporary of a process that still runs (ours) is not touched
    mine = tmp_path / f".big.npz.{os.getpid()}.abcd.tmp"
    mine.write_bytes(b"x")
    other = tmp_path / ".other.npz.1.abcd.tmp"        # not this file's name
    other.write_bytes(b"x")
    atomic_savez(target, {"a": np.ones(3)})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["big.npz", mine.name, other.name])
    assert np.load(target)["a"].tolist() == [1, 1, 1]
    assert clean_stale_temporaries(target) == []


@pytest.mark.parametrize("damage", ["truncated", "garbage", "npy", "not_model", "bad_json",
                                    "wrong_shape"])
def test_load_rejects_bad_files_clearly(tmp_path, damage):
    p = _model().save(tmp_path / "m.npz")
    raw = p.read_bytes()
    if damage == "truncated":
        p.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        p.write_bytes(b"hello, this is not a model\n" * 10)
    elif damage == "npy":
        with open(p, "wb") as f:
            np.save(f, np.zeros(3))
    elif damage == "not_model":
        np.savez(p, a=np.zeros(3))
    elif damage == "bad_json":
        np.savez(p, __symdl_config__=np.array("{not json"), **{"0.weight": np.zeros((3, 4))})
    elif damage == "wrong_shape":
        z = dict(np.load(p))
        z["0.weight"] = np.zeros((5, 4))
        np.savez(p, **z)
    with pytest.raises((ModelFileError, ValueError)) as e:
        nn.load(p)
    msg = str(e.value)
    if damage != "wrong_shape":
        assert isinstance(e.value, ModelFileError) and "not a" in msg and "symdl model" in msg
    else:
        assert "0.weight" in msg and "(5, 4)" in msg


def test_a_crafted_config_cannot_ask_for_a_huge_layer(tmp_path):
    p = _model().save(tmp_path / "m.npz")
    z = dict(np.load(p))
    cfg = json.loads(str(z["__symdl_config__"]))
    cfg["layers"][0]["config"].update(in_features=10**7, out_features=10**6)
    z["__symdl_config__"] = np.array(json.dumps(cfg))
    np.savez(p, **z)
    with pytest.raises(ModelFileError, match=r"layer 0 \(Linear\) declares sizes"):
        nn.load(p)


def test_checkpoint_errors(tmp_path):
    from symdl.train import load_checkpoint
    p = tmp_path / "c.npz"
    p.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ModelFileError, match="not a symdl checkpoint file"):
        load_checkpoint(p)
    np.savez(p, a=np.zeros(2))
    with pytest.raises(ModelFileError, match="not a symdl checkpoint file"):
        load_checkpoint(p)


def test_summary_and_train_eval_modes(capsys):
    model = nn.Sequential(nn.Linear(64, 32), nn.Activation("gelu"), nn.Dropout(0.5),
                          nn.Linear(32, 10))
    text = model.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    lines = text.splitlines()
    assert any("(0) Linear" in r and "(None, 32)" in r and "2,080" in r for r in lines)
    assert any("(3) Linear" in r and "(None, 10)" in r and "330" in r for r in lines)
    assert "total parameters: 2,410" in text
    assert "(None, 10)" in model.summary(input_shape=(64,), file=open(os.devnull, "w"))
    x = np.ones((4, 64), np.float32)
    assert not model.training                       # inference after construction
    assert np.array_equal(model(x), model(x))
    model.train()
    assert model.training and all(layer.training for layer in model)
    assert not np.array_equal(model(x), model(x))   # dropout active
    model.eval()
    assert not any(layer.training for layer in model)
    assert np.array_equal(model(x), model.forward(x, training=False))
