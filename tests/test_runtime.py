"""seed_everything, get_device and the smoke switch."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from exowavenet_lib import get_device, seed_everything, smoke_mode


def _draw():
    return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()


def test_same_seed_same_numbers_different_seed_different_numbers():
    assert seed_everything(123) == 123
    first = _draw()
    seed_everything(123)
    assert _draw() == first
    seed_everything(124)
    assert _draw() != first


@pytest.mark.parametrize(("seed", "error"), [("3", TypeError), (True, TypeError), (2.0, TypeError),
                                             (-1, ValueError), (2**32, ValueError)])
def test_bad_seed_is_rejected_naming_the_argument(seed, error):
    with pytest.raises(error, match="seed"):
        seed_everything(seed)


def test_deterministic_flag_is_applied_and_can_be_turned_off():
    seed_everything(0, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    seed_everything(0)
    assert not torch.are_deterministic_algorithms_enabled()


def test_device_order_is_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")


def test_prefer_validates_its_argument(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device("CPU") == torch.device("cpu")
    with pytest.raises(ValueError, match="prefer='cuda' but that device is not available"):
        get_device("cuda")
    with pytest.raises(ValueError, match="prefer must be one of"):
        get_device("tpu")


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False),
                                               ("", False), ("off", False)])
def test_smoke_switch(monkeypatch, raw, expected):
    monkeypatch.setenv("EXOWAVENET_SMOKE", raw)
    assert smoke_mode() is expected


def test_smoke_switch_unset_is_full_run_and_garbage_is_an_error(monkeypatch):
    monkeypatch.delenv("EXOWAVENET_SMOKE", raising=False)
    assert smoke_mode() is False
    monkeypatch.setenv("EXOWAVENET_SMOKE", "maybe")
    with pytest.raises(ValueError, match="EXOWAVENET_SMOKE='maybe'"):
        smoke_mode()


def test_atomic_path_replaces_on_success_and_keeps_the_old_file_on_error(tmp_path):
    from exowavenet_lib.runtime import atomic_path, write_json_atomic

    target = write_json_atomic(tmp_path / "sub" / "state.json", {"n": 1})
    assert json.loads(target.read_text()) == {"n": 1}
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("{torn")
        raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"n": 1}
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]  # no temporary file left behind
    with pytest.raises(ValueError, match="directory"), atomic_path(tmp_path):
        pass
    with pytest.raises(TypeError, match="path"), atomic_path(3):
        pass
