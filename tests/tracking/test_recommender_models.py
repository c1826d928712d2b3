"""Recommenders in MLflow and on the command line: saved without pickle, registered, served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import audit
from nexus_lab.artifacts import load_recommender, save_recommender
from nexus_lab.errors import IntegrityError, NexusError, SchemaError
from nexus_lab.tracking import load_recommender_model
from nexus_lab.workflows import train_recommender

SCRIPT = Path(sys.executable).with_name("nexus-lab")
rec = nx.recommend


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


@pytest.fixture(scope="module")
def data():
    return nx.data.synth_interactions(300, 120, seed=4)


@pytest.mark.parametrize("model", [
    rec.ALS(factors=8, iterations=3, device="cpu"), rec.EASE(regularization=20.0, device="cpu"),
    rec.BPR(factors=8, epochs=2, device="cpu"), rec.ItemKNN(neighbors=20, device="cpu"),
    rec.Content(device="cpu"), rec.Popularity(),
    rec.Hybrid(candidates={"ease": [rec.EASE(regularization=20.0)],
                           "popularity": [rec.Popularity()]}, device="cpu"),
], ids=lambda m: type(m).__name__)
def test_saved_recommender_recommends_the_same(model, data, tmp_path):
    model.fit(data)
    folder = save_recommender(model, tmp_path / "model")
    again = load_recommender(folder, device="cpu")
    users = [*data["user_id"].unique()[:5], "someone new"]
    pd.testing.assert_frame_equal(pd.DataFrame(again.recommend(users, k=5)),
                                  pd.DataFrame(model.recommend(users, k=5)))
    assert not list(folder.rglob("*.pkl")) and not list(folder.rglob("*.pickle"))


def test_saved_profile_models_recommend_the_same(data, tmp_path):
    people = pd.DataFrame({"user_id": data["user_id"].unique()})
    people["band"] = people["user_id"] % 3
    people["age"] = people["user_id"] % 50 + 18
    newcomer = pd.DataFrame({"user_id": ["new"], "band": [1], "age": [30]})
    for model in (rec.Demographic(device="cpu"),
                  rec.Hybrid(candidates={"ease": [rec.EASE(regularization=20.0)],
                                         "demographic": [rec.Demographic()]}, device="cpu")):
        model.fit(data, users=people)
        again = load_recommender(save_recommender(model, tmp_path / type(model).__name__),
                                 device="cpu")
        users = [*data["user_id"].unique()[:4], "new"]
        pd.testing.assert_frame_equal(
            pd.DataFrame(again.recommend(users, k=5, users=newcomer)),
            pd.DataFrame(model.recommend(users, k=5, users=newcomer)))


def test_loading_refuses_other_classes_and_newer_formats(data, tmp_path):
    folder = save_recommender(rec.Popularity().fit(data), tmp_path / "pop")
    meta = json.loads((folder / "recommender.json").read_text())
    (folder / "recommender.json").write_text(json.dumps({**meta, "class": "os.system"}))
    with pytest.raises(IntegrityError, match="refused"):
        load_recommender(folder)
    (folder / "recommender.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(NexusError, match="newer"):
        load_recommender(folder)
    with pytest.raises(NexusError, match="no saved recommender"):
        load_recommender(tmp_path)


def test_train_registers_and_promotes_only_on_improvement(data, tracking_uri, tmp_path):
    log = nx.crypto.AuditLog(tmp_path / "audit.db")
    with audit.using(log):
        first = train_recommender(data, "ease", device="cpu", tracking_uri=tracking_uri)
        assert first["version"] == "1" and first["champion"]
        assert set(first["metrics"]) >= {"test_ndcg", "test_map", "test_precision",
                                         "test_recall"}
        worse = train_recommender(data, "popularity", tracking_uri=tracking_uri)
    assert worse["version"] == "2" and not worse["champion"]
    assert "does not beat" in worse["reason"]
    # the registry's state changes are in the audit trail, in order
    entries = log.entries()
    assert list(zip(entries["action"], entries["resource"])) == [
        ("model.registered", "models:/nexus-recommender/1"),
        ("model.promoted", "models:/nexus-recommender/1"),
        ("model.registered", "models:/nexus-recommender/2"),
    ]
    assert entries["details"][1]["value"] == pytest.approx(first["metrics"]["test_ndcg"])
    assert log.verify().entries == 3
    served = load_recommender_model(tracking_uri=tracking_uri)
    users = pd.DataFrame({"user_id": data["user_id"].unique()[:3]})
    out = served.predict(users, params={"k": 4})
    assert list(out.columns) == ["user_id", "item_id", "score", "rank"] and len(out) == 12
    # the champion is the EASE model: the served lists are its lists
    expected = first["model"].recommend(users["user_id"].to_numpy(), k=4)
    assert out["item_id"].tolist() == expected["item_id"].tolist()
    with pytest.raises(SchemaError, match="unknown recommender"):
        train_recommender(data, "magic", register=False)


def test_cli_train_and_serve(data, tracking_uri, tmp_path):
    path = tmp_path / "interactions.csv"
    data.rename(columns={"user_id": "customer"}).to_csv(path, index=False)
    proc = cli("recommend", "train", path, "--model", "als", "--columns", "user_id=customer",
               "--device", "cpu", "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "held out, top 10: nDCG" in proc.stdout and "is now the champion" in proc.stdout
    recs = pd.read_parquet(tmp_path / "out" / "recommendations.parquet")
    assert recs["user_id"].nunique() == data["user_id"].nunique()
    proc = cli("recommend", "serve", "--users", "1", "2", "nobody", "--k", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "nobody" in proc.stdout and len(proc.stdout.strip().splitlines()) == 1 + 9
    lines = [ln.split() for ln in proc.stdout.strip().splitlines()[1:]]
    lists = {u: [ln[1] for ln in lines if ln[0] == u] for u in ("1", "2", "nobody")}
    assert lists["1"] != lists["nobody"] or lists["2"] != lists["nobody"]  # known users: own
    pd.DataFrame({"user_id": [1, 2]}).to_csv(tmp_path / "users.csv", index=False)
    proc = cli("recommend", "serve", "--users-file", tmp_path / "users.csv", "--out",
               tmp_path / "lists.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(tmp_path / "lists.csv")) == 20
    proc = cli("recommend", "serve", cwd=tmp_path)
    assert proc.returncode == 2 and "either with --users" in proc.stderr


def test_a_broken_audit_setting_stops_before_anything_is_registered(data, tracking_uri,
                                                                    tmp_path, monkeypatch):
    from mlflow import MlflowClient

    key = tmp_path / "audit.nxkey"
    nx.crypto.generate_keypair("auditor").save(key, password="right")
    monkeypatch.setenv("NEXUS_LAB_AUDIT_LOG", str(tmp_path / "audit.db"))
    monkeypatch.setenv("NEXUS_LAB_AUDIT_KEY", str(key))
    monkeypatch.setenv("NEXUS_LAB_AUDIT_PASSWORD", "wrong")
    with pytest.raises(NexusError, match="password"):
        train_recommender(data, "popularity", device="cpu", tracking_uri=tracking_uri)
    assert MlflowClient(tracking_uri).search_registered_models() == []
    assert not (tmp_path / "audit.db").exists()


def test_nothing_held_out_is_refused_not_measured_as_zero(tracking_uri):
    # four interactions: the split holds none out, and an nDCG of 0.000 measured on
    # nothing would be registered (and could become the champion)
    tiny = pd.DataFrame({"user_id": [1, 2, 3, 1], "item_id": ["a", "b", "a", "b"]})
    with pytest.raises(SchemaError, match=r"nothing was held out .* 4 interactions"):
        train_recommender(tiny, "ease", device="cpu", tracking_uri=tracking_uri)
