"""Errors a command prints give the command's own flags, never Python code to type."""

from __future__ import annotations

import pytest
import torch

from nexus_lab.cli import main

_BANK = ("transaction_id,date,amount,description\n"
         "B1,2025-01-04,10.00,rent\nB1,2025-01-05,12.50,fee\nB3,2025-01-06,28.04,card\n")
_LEDGER = ("transaction_id,date,amount,description\n"
           "L1,2025-01-04,10.00,rent\nL2,2025-01-05,12.50,fee\nL3,2025-01-06,28.04,card\n")


def _error(capsys, tmp_path, *args: str) -> str:
    (tmp_path / "bank.csv").write_text(_BANK)
    (tmp_path / "ledger.csv").write_text(_LEDGER)
    status = main(["reconcile", str(tmp_path / "bank.csv"), str(tmp_path / "ledger.csv"),
                   "--out", str(tmp_path / "out"), "--no-track", *args])
    err = capsys.readouterr().err
    assert status == 2, err
    assert not (tmp_path / "out").exists()
    return err


def test_repeated_ids_advise_a_column_flag_not_python(capsys, tmp_path):
    err = _error(capsys, tmp_path, "--device", "cpu")
    assert "duplicate ids (['B1'])" in err
    assert "df[" not in err and "df.index" not in err, err
    assert "--bank-columns transaction_id=<that column>" in err, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has a CUDA GPU")
def test_a_device_that_is_not_there_is_named_by_its_flag(capsys, tmp_path):
    (tmp_path / "x").mkdir()
    err = _error(capsys, tmp_path / "x", "--device", "cuda")
    assert "device='" not in err, err
    assert "--device cuda was asked for" in err and "--device auto or --device cpu" in err
