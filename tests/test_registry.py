"""LocalModelRegistry promotes only better models (atomic index, own copies); the W&B alias moves only online."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from exowavenet_lib.tracking import LocalModelRegistry, Tracker, beats, promote_wandb_artifact


def _checkpoint(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_first_version_is_promoted_and_copied(tmp_path):
    registry = LocalModelRegistry(tmp_path / "reg")
    ckpt = _checkpoint(tmp_path, "a.pt", b"model-a")
    assert registry.production("clf") is None
    assert registry.promote("clf", ckpt, {"val_macro_f1": 0.5, "val_loss": 1.2}) is True
    prod = registry.production("clf")
    assert prod["version"] == 1 and prod["value"] == 0.5 and prod["metrics"]["val_loss"] == 1.2
    ckpt.write_bytes(b"changed later")
    assert Path(prod["path"]).read_bytes() == b"model-a", "the registry keeps its own copy"


def test_promotes_only_a_strictly_better_candidate(tmp_path):
    registry = LocalModelRegistry(tmp_path)
    registry.promote("clf", _checkpoint(tmp_path, "a.pt", b"a"), {"val_macro_f1": 0.6})
    assert registry.promote("clf", _checkpoint(tmp_path, "b.pt", b"b"), {"val_macro_f1": 0.55}) is False
    assert registry.promote("clf", _checkpoint(tmp_path, "c.pt", b"c"), {"val_macro_f1": 0.6}) is False, "a tie"
    assert registry.promote("clf", _checkpoint(tmp_path, "d.pt", b"d"), {"val_macro_f1": 0.7}) is True
    prod = registry.production("clf")
    assert prod["version"] == 4 and Path(prod["path"]).read_bytes() == b"d"
    history = registry.history("clf")
    assert history["version"].tolist() == [1, 2, 3, 4]
    assert history["promoted"].tolist() == [True, False, False, True]
    assert history["val_macro_f1"].tolist() == [0.6, 0.55, 0.6, 0.7]


def test_minimise_mode_and_names_are_independent(tmp_path):
    registry = LocalModelRegistry(tmp_path)
    registry.promote("a", _checkpoint(tmp_path, "1.pt", b"1"), {"val_loss": 1.0}, metric="val_loss", mode="min")
    assert registry.promote("a", _checkpoint(tmp_path, "2.pt", b"2"), {"val_loss": 0.8}, "val_loss", "min")
    assert not registry.promote("a", _checkpoint(tmp_path, "3.pt", b"3"), {"val_loss": 0.9}, "val_loss", "min")
    assert registry.promote("b", _checkpoint(tmp_path, "4.pt", b"4"), {"val_loss": 5.0}, "val_loss", "min")
    assert registry.production("a")["value"] == 0.8 and registry.production("b")["value"] == 5.0
    assert registry.history("nothing").empty


def test_index_is_valid_json_and_survives_a_new_instance(tmp_path):
    LocalModelRegistry(tmp_path).promote("clf", _checkpoint(tmp_path, "a.pt", b"a"), {"val_macro_f1": 0.4})
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["clf"]["production"] == 1
    assert LocalModelRegistry(tmp_path).production("clf")["value"] == 0.4
    assert not list(tmp_path.glob(".index-*")), "no temporary index file left behind"


def test_validation(tmp_path):
    registry = LocalModelRegistry(tmp_path)
    ckpt = _checkpoint(tmp_path, "a.pt", b"a")
    with pytest.raises(ValueError, match="metric"):
        registry.promote("clf", ckpt, {"val_loss": 1.0})
    with pytest.raises(ValueError, match="mode"):
        registry.promote("clf", ckpt, {"val_macro_f1": 1.0}, mode="up")
    with pytest.raises(ValueError, match="name"):
        registry.promote("a/b", ckpt, {"val_macro_f1": 1.0})
    with pytest.raises(ValueError, match="finite"):
        registry.promote("clf", ckpt, {"val_macro_f1": float("nan")})
    with pytest.raises(FileNotFoundError):
        registry.promote("clf", tmp_path / "missing.pt", {"val_macro_f1": 1.0})
    registry.promote("clf", ckpt, {"val_macro_f1": 0.5, "val_loss": 1.0})
    with pytest.raises(ValueError, match="like with like"):
        registry.promote("clf", ckpt, {"val_loss": 0.5}, metric="val_loss", mode="min")


def test_beats():
    assert beats(0.5, None) and beats(0.6, 0.5) and not beats(0.5, 0.5) and beats(0.4, 0.5, "min")


class _FakeRun:
    entity, project = "me", "exowavenet"

    def __init__(self):
        self.logged = []

    def log_artifact(self, artifact, aliases):
        self.logged.append((artifact, list(aliases)))


class _FakeApi:
    def __init__(self, metadata=None):
        self.metadata = metadata
        self.asked = []

    def artifact(self, path, type=None):  # noqa: A002 - wandb's name
        self.asked.append(path)
        if self.metadata is None:
            raise ValueError(f"artifact '{path}' not found")
        return SimpleNamespace(metadata=self.metadata)


def _online_tracker():
    tracker = Tracker("exowavenet", mode="disabled", verbose=False).start()
    tracker.mode, tracker.run = "online", _FakeRun()  # as if wandb.init had gone online
    return tracker


def test_wandb_alias_moves_only_when_online_and_better(tmp_path):
    ckpt = _checkpoint(tmp_path, "a.pt", b"a")
    tracker = _online_tracker()
    api = _FakeApi(metadata=None)
    assert promote_wandb_artifact(tracker, "clf", ckpt, {"val_macro_f1": 0.5}, api=api) is True
    assert api.asked == ["me/exowavenet/clf:production"]
    artifact, aliases = tracker.run.logged[0]
    assert aliases == ["latest", "production"] and artifact.metadata["val_macro_f1"] == 0.5
    assert promote_wandb_artifact(tracker, "clf", ckpt, {"val_macro_f1": 0.5}, api=_FakeApi({"val_macro_f1": 0.6}))\
        is False
    assert len(tracker.run.logged) == 1
    assert promote_wandb_artifact(tracker, "clf", ckpt, {"val_macro_f1": 0.7}, api=_FakeApi({"val_macro_f1": 0.6}))
    assert len(tracker.run.logged) == 2


def test_wandb_promotion_does_nothing_offline_or_disabled(tmp_path):
    ckpt = _checkpoint(tmp_path, "a.pt", b"a")
    with Tracker("exowavenet", mode="disabled", verbose=False) as run:
        assert promote_wandb_artifact(run, "clf", ckpt, {"val_macro_f1": 0.5}, api=_FakeApi()) is None
    with pytest.raises(RuntimeError, match="not running"):
        promote_wandb_artifact(run, "clf", ckpt, {"val_macro_f1": 0.5})


def test_wandb_promotion_propagates_other_api_errors(tmp_path):
    class _Broken(_FakeApi):
        def artifact(self, path, type=None):  # noqa: A002
            raise ConnectionError("server said 500")

    with pytest.raises(ConnectionError):
        promote_wandb_artifact(_online_tracker(), "clf", _checkpoint(tmp_path, "a.pt", b"a"), {"val_macro_f1": 0.5},
                               api=_Broken())
