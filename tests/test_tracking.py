"""exowavenet_lib.tracking: mode resolution, the offline-first Tracker, and sweeps from one W&B config."""

from __future__ import annotations

import http.server
import math
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path
from statistics import NormalDist

import matplotlib
import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from exowavenet_lib.tracking import (
    SweepTrial,
    Tracker,
    TrialPruned,
    WandBExperimentTracker,
    find_api_key,
    probe_wandb_server,
    resolve_mode,
    run_sweep,
    translate_pruner,
    translate_sampler,
    translate_search_space,
)
from exowavenet_lib.tracking import sweeps as sweeps_module
from exowavenet_lib.tracking import tracker as tracker_module
from exowavenet_lib.train import History

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
KEY = "fake" * 10  # 40 characters: the shape of a real key, the case where plain wandb.init waits ~100 s
WANDB_VARS = ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DISABLED", "WANDB_BASE_URL", "WANDB_DIR", "NETRC",
              "WANDB_IDENTITY_TOKEN_FILE", "WANDB_PROJECT", "WANDB_ENTITY")


@pytest.fixture
def wandb_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No key, no mode, a private HOME and wandb data folders under tmp_path, quiet wandb."""
    for var in WANDB_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var, sub in (("WANDB_CONFIG_DIR", "config"), ("WANDB_CACHE_DIR", "cache"), ("WANDB_DATA_DIR", "data")):
        monkeypatch.setenv(var, str(home / sub))
    return home


class Probe:
    """A fake server check that records its calls."""

    def __init__(self, answer: bool | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float) -> bool:
        self.calls.append((url, timeout))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


# --------------------------------------------------------------------------------------------------- resolve_mode

NO_KEY: dict[str, str] = {"HOME": "/nonexistent-home"}
WITH_KEY = {**NO_KEY, "WANDB_API_KEY": KEY}


@pytest.mark.parametrize(
    ("explicit", "env", "answer", "mode", "probed", "reason_part"),
    [
        # explicit wins over WANDB_MODE and over key + server
        ("offline", {**WITH_KEY, "WANDB_MODE": "online"}, True, "offline", False, "mode='offline'"),
        ("disabled", {**WITH_KEY, "WANDB_MODE": "online"}, True, "disabled", False, "mode='disabled'"),
        ("online", {**WITH_KEY, "WANDB_MODE": "offline"}, True, "online", True, "mode='online'"),
        ("online", {**NO_KEY, "WANDB_MODE": "online"}, True, "offline", False, "no W&B API key"),
        ("online", WITH_KEY, False, "offline", True, "did not answer"),
        ("DryRun", WITH_KEY, True, "offline", False, "mode='DryRun'"),  # wandb's legacy spelling
        # WANDB_MODE wins over key + server
        (None, {**WITH_KEY, "WANDB_MODE": "disabled"}, True, "disabled", False, "WANDB_MODE=disabled"),
        (None, {**WITH_KEY, "WANDB_MODE": "offline"}, True, "offline", False, "WANDB_MODE=offline"),
        (None, {**WITH_KEY, "WANDB_MODE": "online"}, True, "online", True, "WANDB_MODE=online"),
        (None, {**WITH_KEY, "WANDB_MODE": "online"}, False, "offline", True, "did not answer"),
        (None, {**WITH_KEY, "WANDB_DISABLED": "true"}, True, "disabled", False, "WANDB_DISABLED"),
        # nothing asked: online only with a key and a server that answers
        (None, WITH_KEY, True, "online", True, "answered"),
        (None, WITH_KEY, False, "offline", True, "did not answer within 2 s"),
        (None, WITH_KEY, OSError("boom"), "offline", True, "did not answer"),
        (None, NO_KEY, True, "offline", False, "no W&B API key"),
        (None, {**NO_KEY, "WANDB_API_KEY": "  "}, True, "offline", False, "no W&B API key"),
    ],
)
def test_resolve_mode_precedence(explicit, env, answer, mode, probed, reason_part) -> None:
    probe = Probe(answer)
    got, reason = resolve_mode(explicit, env, probe)
    assert got == mode
    assert reason_part in reason
    assert len(probe.calls) == (1 if probed else 0)  # never probed without a key, or when not needed
    if probed:
        url, timeout = probe.calls[0]
        assert url.startswith("https://") and timeout == 2.0


def test_resolve_mode_reads_netrc_and_base_url(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine api.wandb.ai\n  login user\n  password {KEY}\n")
    netrc.chmod(0o600)
    probe = Probe(True)
    assert resolve_mode(None, {"NETRC": str(netrc)}, probe)[0] == "online"  # `wandb login` wrote a key
    assert find_api_key({"NETRC": str(netrc)}) == str(netrc)
    # a self-hosted server: the netrc entry must be for that host, and that host is probed
    env = {"NETRC": str(netrc), "WANDB_BASE_URL": "https://wandb.example.org"}
    assert find_api_key(env) is None
    assert resolve_mode(None, env, probe)[0] == "offline"
    netrc.write_text(f"machine wandb.example.org login user password {KEY}\n")
    assert resolve_mode(None, env, probe)[0] == "online"
    assert probe.calls[-1][0] == "https://wandb.example.org"
    (tmp_path / ".netrc").write_text(f"machine api.wandb.ai login user password {KEY}\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert find_api_key({"HOME": str(tmp_path)}) == str(tmp_path / ".netrc")  # default location under HOME


def test_resolve_mode_rejects_unknown_modes() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        resolve_mode("sometimes", NO_KEY, Probe(True))
    with pytest.raises(ValueError, match="WANDB_MODE must be one of"):
        resolve_mode(None, {"WANDB_MODE": "cloud"}, Probe(True))


def test_default_probe_has_a_hard_timeout() -> None:
    # a server that accepts the connection and never answers: the probe gives up after its timeout
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    port = silent.getsockname()[1]
    try:
        start = time.monotonic()
        assert probe_wandb_server(f"http://127.0.0.1:{port}", timeout=0.5) is False
        assert time.monotonic() - start < 2.0
    finally:
        silent.close()
    # a closed port fails at once; any HTTP answer (even 404) counts as "the server answers"
    assert probe_wandb_server(f"http://127.0.0.1:{port}", timeout=0.5) is False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert probe_wandb_server(f"http://127.0.0.1:{server.server_address[1]}", timeout=2.0) is True
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------------------------------------- Tracker


def _history() -> History:
    history = History()
    history.append(train_loss=1.2, val_loss=1.0, val_accuracy=0.5, lr=1e-3, val_macro_f1=0.40)
    history.append(train_loss=0.9, val_loss=0.8, val_accuracy=0.6, lr=1e-3, val_macro_f1=0.55)
    history.append(train_loss=0.7, val_loss=0.85, val_accuracy=0.62, lr=5e-4, val_macro_f1=0.50)
    history.best_epoch, history.best_value = 2, 0.8
    return history


def _log_everything(run: Tracker, checkpoint: Path) -> np.ndarray:
    import matplotlib.pyplot as plt

    run.log_config({"batch_size": 32})
    run.log_metrics({"warmup_loss": np.float32(2.5), "n": 3}, step=0)
    run.log_history(_history())
    cm = run.log_confusion_matrix([0, 1, 2, 2, 1], ["SNIa", "SNII", "TDE", "SNIa", "SNII"], ["SNIa", "SNII", "TDE"])
    run.log_table("per_epoch", _history().to_pandas())
    fig, ax = plt.subplots()
    ax.plot([59000.0, 59010.0], [20.1, 19.5], "o-")
    ax.set(xlabel="Time (MJD)", ylabel="Magnitude")
    run.log_figure("light_curve_prediction", fig)
    plt.close(fig)
    run.log_checkpoint(checkpoint, "ztf-classifier", aliases=("latest", "best"), metadata={"epoch": 2})
    return cm


def _check_logged(run: Tracker, cm: np.ndarray) -> None:
    assert cm.tolist() == [[1, 0, 0], [0, 2, 0], [1, 0, 1]]  # rows: true class
    assert run.summary["warmup_loss"] == 2.5 and run.summary["val_loss"] == 0.85  # last value, like W&B's summary
    assert run.summary["best_epoch"] == 2 and run.summary["best_val_loss"] == 0.8
    assert run.config == {"lr": 1e-3, "batch_size": 32}


def test_fake_key_and_no_network_does_not_wait(wandb_env: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """A learner with a (stale) key and no network: the real probe fails fast, the run goes offline, no ~100 s wait."""
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    start = time.monotonic()
    with Tracker("exowavenet-tests", dir=tmp_path / "runs") as run:
        run.log_metrics({"loss": 0.5})
    elapsed = time.monotonic() - start
    assert elapsed < 15.0
    assert run.mode == "offline"
    out = capsys.readouterr().out
    assert out.count("W&B offline") == 1 and f"wandb sync {run.run_dir}" in out and "API key is set" in out
    assert list(run.run_dir.glob("run-*.wandb"))


def test_online_start_that_fails_falls_back_to_offline(wandb_env: Path, tmp_path: Path, monkeypatch) -> None:
    """Even when the probe says yes, wandb.init gets a short init_timeout and a failure means offline, not a hang."""
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    probe = Probe(True)
    start = time.monotonic()
    with Tracker("exowavenet-tests", dir=tmp_path / "runs", probe=probe, init_timeout=3, verbose=False) as run:
        run.log_metrics({"loss": 0.5})
    assert time.monotonic() - start < 15.0
    assert probe.calls and run.mode == "offline" and "online start failed" in run.reason
    assert list(run.run_dir.glob("run-*.wandb"))


def test_offline_run_logs_everything_and_is_syncable(wandb_env: Path, tmp_path: Path, capsys) -> None:
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"weights")
    with WandBExperimentTracker("exowavenet-tests", mode="offline", dir=tmp_path / "runs", config={"lr": 1e-3},
                                name="lstm-baseline", tags=["tests"]) as run:
        assert run.mode == "offline" and run.running
        cm = _log_everything(run, checkpoint)
    assert not run.running
    _check_logged(run, cm)
    run_dir = run.run_dir
    assert run_dir.parent == tmp_path / "runs" / "wandb" and run_dir.name.startswith("offline-run-")
    assert len(list(run_dir.glob("run-*.wandb"))) == 1
    assert list((run_dir / "files" / "media" / "images").glob("light_curve_prediction_*.png"))
    tables = {p.name.split("_")[0] for p in (run_dir / "files" / "media" / "table").glob("*.table.json")}
    assert {"per", "confusion"} <= tables  # the DataFrame and the confusion-matrix chart's table
    assert run.sync_command == f"wandb sync {run_dir}"
    assert f"upload it later with: wandb sync {run_dir}" in capsys.readouterr().out
    # wandb's own CLI recognises the folder as a run to upload (dry run: no network, no key)
    wandb_cli = Path(sys.executable).with_name("wandb")
    dry = subprocess.run([str(wandb_cli), "sync", "--dry-run", str(run_dir)], capture_output=True, text=True,
                         timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "Would sync 1 run" in dry.stdout + dry.stderr
    run.finish()  # a second finish is harmless
    with pytest.raises(RuntimeError, match="finished"):
        run.log_metrics({"loss": 1.0})


def test_disabled_mode_is_a_cheap_no_op_that_writes_nothing(wandb_env: Path, tmp_path: Path, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"weights")

    def no_wandb():
        raise AssertionError("disabled mode must not touch wandb")

    monkeypatch.setattr(tracker_module, "_wandb", no_wandb)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    start = time.monotonic()
    with Tracker("exowavenet-tests", dir=work / "runs", config={"lr": 1e-3}) as run:
        cm = _log_everything(run, checkpoint)
        assert run.log_checkpoint(checkpoint, "ztf-classifier") is None
    assert time.monotonic() - start < 5.0
    assert run.mode == "disabled" and run.run is None and run.run_dir is None and run.sync_command is None
    _check_logged(run, cm)
    assert list(work.iterdir()) == []  # no ./wandb, no runs/ folder


def test_tracker_validates_arguments_in_every_mode(wandb_env: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="project"):
        Tracker("bad/project")
    with pytest.raises(ValueError, match="mode must be one of"):
        Tracker("p", mode="cloud")
    with pytest.raises(ValueError, match="tags"):
        Tracker("p", tags="one-string")
    run = Tracker("p", mode="disabled", verbose=False)
    with pytest.raises(RuntimeError, match="start"):
        run.log_metrics({"loss": 1.0})
    run.log_config({"early": 1})  # config may be given before the start
    with run:
        with pytest.raises(TypeError, match="metrics must be a dict"):
            run.log_metrics([("loss", 1.0)])
        with pytest.raises(ValueError, match="step"):
            run.log_metrics({"loss": 1.0}, step=-1)
        with pytest.raises(TypeError, match="DataFrame"):
            run.log_table("t", {"a": [1]})
        with pytest.raises(TypeError, match="Figure"):
            run.log_figure("f", np.zeros((4, 4)))
        with pytest.raises(TypeError, match="History"):
            run.log_history({"train_loss": [1.0]})
        with pytest.raises(ValueError, match="unknown class"):
            run.log_confusion_matrix(["SNIa"], ["kilonova"], ["SNIa", "SNII"])
        with pytest.raises(FileNotFoundError, match="does not exist"):
            run.log_checkpoint(tmp_path / "missing.pt", "model")
        (tmp_path / "m.pt").write_bytes(b"x")
        with pytest.raises(ValueError, match="name must use only"):
            run.log_checkpoint(tmp_path / "m.pt", "my model:v1")


# ------------------------------------------------------------------------------------------ sweep translation


def _config(parameters: dict, method: str = "random", goal: str = "minimize", **extra) -> dict:
    return {"method": method, "metric": {"name": "val_loss", "goal": goal}, "parameters": parameters, **extra}


E = math.e
DISTRIBUTION_CASES = {
    "values": ({"values": [16, 32, 64]}, CategoricalDistribution([16, 32, 64])),
    "values_str": ({"values": ["adam", "sgd"], "distribution": "categorical"},
                   CategoricalDistribution(["adam", "sgd"])),
    "value": ({"value": 0.1}, CategoricalDistribution([0.1])),
    "uniform": ({"distribution": "uniform", "min": 0.0, "max": 0.5}, FloatDistribution(0.0, 0.5)),
    "uniform_inferred": ({"min": 0.1, "max": 0.9}, FloatDistribution(0.1, 0.9)),
    "int_uniform": ({"distribution": "int_uniform", "min": 1, "max": 8}, IntDistribution(1, 8)),
    "int_uniform_inferred": ({"min": 2, "max": 6}, IntDistribution(2, 6)),
    "log_uniform_values": ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
                           FloatDistribution(1e-4, 1e-1, log=True)),
    "log_uniform": ({"distribution": "log_uniform", "min": -2.0, "max": 0.0},
                    FloatDistribution(E**-2, 1.0, log=True)),
    "q_uniform_int": ({"distribution": "q_uniform", "min": 0, "max": 100, "q": 10}, IntDistribution(0, 100, step=10)),
    "q_uniform_float": ({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25},
                        FloatDistribution(0.0, 1.0, step=0.25)),
    "q_log_uniform_values_int": ({"distribution": "q_log_uniform_values", "min": 16, "max": 256},
                                 IntDistribution(16, 256, log=True)),
    "q_log_uniform_values_float": ({"distribution": "q_log_uniform_values", "min": 1e-3, "max": 1.0, "q": 1e-3},
                                   FloatDistribution(1e-3, 1.0, log=True)),
    "normal": ({"distribution": "normal", "mu": 0.3, "sigma": 0.05}, FloatDistribution(0.0, 1.0)),
}


@pytest.mark.parametrize("case", sorted(DISTRIBUTION_CASES))
def test_translate_search_space_every_distribution(case: str) -> None:
    spec, expected = DISTRIBUTION_CASES[case]
    got = translate_search_space(_config({"p": spec}))["p"]
    assert got == expected  # same class, bounds, log flag, step, choices
    if isinstance(got, FloatDistribution) and "min" in spec:
        low = E ** spec["min"] if spec.get("distribution") == "log_uniform" else spec["min"]
        assert math.isclose(got.low, low) and got.log == ("log" in spec.get("distribution", ""))


def test_translation_agrees_with_wandbs_own_optuna_translation() -> None:
    """wandb's optuna sweep scheduler maps configs to optuna distributions; ours agrees wherever it has a mapping."""
    wandb_optuna = pytest.importorskip("wandb.sdk.sweeps.scheduler.optuna")
    theirs = wandb_optuna.sweep_parameter_to_distribution
    # wandb has no mapping for normal and log_uniform, and drops q for float q_log_uniform_values (we round to q)
    skip = {"normal", "log_uniform", "q_log_uniform_values_float"}
    for case, (spec, _) in DISTRIBUTION_CASES.items():
        if case not in skip:
            assert translate_search_space(_config({"p": spec}))["p"] == theirs(dict(spec)), case


def test_samples_follow_the_config() -> None:
    """Values the objective receives lie on the config's support, with the config's quantisation and shape."""
    config = _config({name: spec for name, (spec, _) in DISTRIBUTION_CASES.items()})
    seen: list[dict] = []
    result = run_sweep(config, lambda p: seen.append(p) or 0.0, n_trials=300, seed=1, backend="optuna")
    assert len(seen) == 300 and list(result.trials.columns[3:3 + len(config["parameters"])]) == list(seen[0])
    frame = pd.DataFrame(seen)
    assert set(frame["values"]) == {16, 32, 64} and set(frame["value"]) == {0.1}
    assert frame["int_uniform"].between(1, 8).all() and all(type(p["int_uniform"]) is int for p in seen)
    assert set(frame["q_uniform_int"]) <= set(range(0, 101, 10))
    assert set(frame["q_uniform_float"]) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    q = frame["q_log_uniform_values_float"].to_numpy()
    assert np.allclose(np.round(q / 1e-3) * 1e-3, q) and q.min() >= 1e-3 and q.max() <= 1.0
    lr = np.log10(frame["log_uniform_values"].to_numpy())  # log-uniform: uniform in log10 between -4 and -1
    assert lr.min() >= -4 and lr.max() <= -1 and abs(np.median(lr) + 2.5) < 0.3
    x = frame["normal"].to_numpy()
    assert abs(x.mean() - 0.3) < 4 * 0.05 / math.sqrt(len(x)) and abs(x.std() - 0.05) < 0.01
    decode = sweeps_module._parse(_config({"p": DISTRIBUTION_CASES["normal"][0]})).params["p"].decode
    assert math.isclose(decode(0.5), 0.3) and math.isclose(decode(NormalDist().cdf(1.0)), 0.35)


def test_samplers_and_pruner_follow_the_config() -> None:
    space = {"a": {"values": [1, 2]}}
    assert isinstance(translate_sampler(_config(space, "grid")), optuna.samplers.GridSampler)
    assert isinstance(translate_sampler(_config(space, "random"), seed=0), optuna.samplers.RandomSampler)
    assert isinstance(translate_sampler(_config(space, "bayes"), seed=0), optuna.samplers.TPESampler)
    assert translate_pruner(_config(space)) is None
    pruner = translate_pruner(_config(space, early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2}))
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert (pruner._min_resource, pruner._max_resource, pruner._reduction_factor) == (2, "auto", 2)
    pruner = translate_pruner(_config(space, early_terminate={"type": "hyperband", "max_iter": 27, "s": 2}))
    assert (pruner._min_resource, pruner._max_resource, pruner._reduction_factor) == (3, 27, 3)


@pytest.mark.parametrize(
    ("config", "names"),
    [
        (_config({"a": {"values": [1]}}, command=["python"]), "command"),
        (_config({"a": {"values": [1, 2], "probabilities": [0.5, 0.5]}}), "probabilities"),
        (_config({"a": {"distribution": "beta", "a": 1, "b": 2}}), "beta"),
        (_config({"a": {"distribution": "q_normal", "mu": 0, "sigma": 1}}), "q_normal"),
        (_config({"a": {"distribution": "uniform", "min": 0.0, "max": 1.0, "mu": 0.5}}), "mu"),
        (_config({"opt": {"parameters": {"lr": {"values": [1]}}}}), "nested"),
        (_config({"a": {"min": 1, "max": 2.0}}), "ambiguous"),
        (_config({"a": {"distribution": "log_uniform_values", "min": 0.0, "max": 1.0}}), "min > 0"),
        (_config({"a": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.3}}), "multiple of q"),
        (_config({"a": {"distribution": "uniform", "min": 0.0, "max": 1.0}}, "grid"), "a (uniform)"),
        (_config({"a": {"values": [1]}}, "hyperopt"), "hyperopt"),
        (_config({"a": {"values": [1]}}, goal="lower"), "lower"),
        ({"method": "random", "parameters": {"a": {"values": [1]}}}, "metric"),
        (_config({"a": {"values": [1]}}, early_terminate={"type": "envelope"}), "envelope"),
        (_config({"a": {"values": [1]}}, early_terminate={"type": "hyperband", "min_iter": 1, "strict": True}),
         "strict"),
        (_config({"a": {"values": [1]}}, early_terminate={"type": "hyperband", "max_iter": 9}), "'s'"),
        (_config({"state": {"values": [1]}}), "state"),
    ],
)
def test_unsupported_config_raises_naming_it(config: dict, names: str) -> None:
    with pytest.raises(ValueError) as info:
        translate_search_space(config)
    assert names in str(info.value)
    with pytest.raises(ValueError):  # run_sweep refuses the same config before running anything
        run_sweep(config, lambda p: 0.0, n_trials=1, backend="optuna")


# --------------------------------------------------------------------------------------------------- running sweeps


def test_grid_runs_every_point_exactly_once() -> None:
    config = _config({"hidden": {"values": [32, 64]}, "dropout": {"values": [0.1, 0.3]}}, "grid")
    calls: list[tuple] = []

    def objective(params):
        calls.append((params["hidden"], params["dropout"]))
        return params["dropout"] + 1.0 / params["hidden"]

    result = run_sweep(config, objective, backend="optuna", seed=0)  # n_trials defaults to the grid's size
    assert len(result.trials) == 4 and sorted(calls) == [(32, 0.1), (32, 0.3), (64, 0.1), (64, 0.3)]
    assert result.best_params == {"hidden": 64, "dropout": 0.1}
    calls.clear()
    assert len(run_sweep(config, objective, n_trials=10, backend="optuna").trials) == 4  # never more than the grid


@pytest.mark.parametrize(("method", "goal"), [("random", "maximize"), ("bayes", "minimize")])
def test_random_and_bayes_run_n_trials_and_pick_the_best(method: str, goal: str) -> None:
    config = _config({"x": {"distribution": "uniform", "min": -2.0, "max": 2.0},
                      "opt": {"values": ["adam", "sgd"]}}, method, goal)

    def objective(params):
        return {"val_loss": (params["x"] - 0.5) ** 2 + (params["opt"] == "sgd"), "val_accuracy": 0.9}

    result = run_sweep(config, objective, n_trials=12, seed=3, backend="optuna")
    values = result.trials["val_loss"]
    assert len(result.trials) == 12 and (result.trials["state"] == "COMPLETE").all()
    assert result.best_value == (values.min() if goal == "minimize" else values.max())
    assert objective(result.best_params)["val_loss"] == result.best_value
    assert (result.trials["val_accuracy"] == 0.9).all()  # extra numbers returned become columns
    again = run_sweep(config, objective, n_trials=12, seed=3, backend="optuna")
    pd.testing.assert_frame_equal(result.trials.drop(columns="duration_s"), again.trials.drop(columns="duration_s"))


def test_hyperband_prunes_with_intermediate_reports() -> None:
    config = _config({"rate": {"distribution": "uniform", "min": 0.01, "max": 1.0}}, "random",
                     early_terminate={"type": "hyperband", "min_iter": 1, "max_iter": 27, "eta": 3})

    def objective(params, trial):
        assert isinstance(trial, SweepTrial) and trial.params == params
        loss = 1.0
        for epoch in range(1, 28):
            loss = 1.0 / (1.0 + params["rate"] * epoch)
            trial.report(epoch, loss)  # raises TrialPruned when hyperband stops this trial
        return loss

    result = run_sweep(config, objective, n_trials=30, seed=0, backend="optuna")
    states = result.trials["state"].value_counts()
    pruned = result.trials[result.trials["state"] == "PRUNED"]
    done = result.trials[result.trials["state"] == "COMPLETE"]
    assert states.get("PRUNED", 0) >= 5 and states.get("COMPLETE", 0) >= 1, states
    # most pruned trials stop early; a trial can also be pruned at the last rung (27), after its final report
    assert (pruned["steps"] < 27).sum() >= 10 and pruned["val_loss"].isna().all() and (done["steps"] == 27).all()
    again = run_sweep(config, objective, n_trials=30, seed=0, backend="optuna")  # seeded: brackets included
    assert again.trials["state"].tolist() == result.trials["state"].tolist()
    assert result.best_value == done["val_loss"].min()
    assert TrialPruned is optuna.TrialPruned


def test_objective_calling_conventions_and_history() -> None:
    config = _config({"epochs": {"values": [2, 3]}}, "grid")

    def with_report(params, *, report):
        for step in range(params["epochs"]):
            report(step, 1.0 / (step + 1))
        return 1.0 / params["epochs"]

    result = run_sweep(config, with_report, backend="optuna")
    assert sorted(result.trials["steps"]) == [2, 3] and result.best_params == {"epochs": 3}

    def returns_history(params):
        history = _history()
        return history

    result = run_sweep(config, returns_history, backend="optuna")
    assert result.best_value == 0.8 and (result.trials["best_epoch"] == 2).all()  # best epoch of val_loss

    with pytest.raises(ValueError, match="without the sweep metric 'val_loss'"):
        run_sweep(config, lambda p: {"loss": 1.0}, backend="optuna")
    with pytest.raises(ValueError, match="n_trials is required"):
        run_sweep(_config({"epochs": {"values": [2, 3]}}), lambda p: 1.0, backend="optuna")


def test_sweep_plots_are_labelled() -> None:
    import matplotlib.pyplot as plt

    config = _config({"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
                      "hidden": {"values": [[32], [64, 64]]}, "dropout": {"min": 0.0, "max": 0.5}}, "random")
    result = run_sweep(config, lambda p: abs(math.log10(p["lr"]) + 2) + p["dropout"] + len(p["hidden"]) / 10,
                       n_trials=16, seed=0, backend="optuna")
    importances = result.param_importances()
    assert set(importances.index) == {"lr", "hidden", "dropout"} and math.isclose(importances.sum(), 1.0)
    for fig in (result.plot_optimization_history(), result.plot_param_importances(),
                result.plot_parallel_coordinates()):
        ax = fig.axes[0]
        assert ax.get_title() and (ax.get_xlabel() or ax.get_xticklabels())
        plt.close(fig)
    assert "val_loss" in repr(result)


def test_wandb_backend_sends_the_config_unchanged_and_calls_the_same_objective(monkeypatch) -> None:
    """Online path, with a stand-in for the W&B server: wandb.sweep gets the config, the agent drives the objective."""
    config = _config({"hidden": {"values": [32, 64]}, "dropout": {"values": [0.1, 0.3]}}, "grid")
    grid = [{"hidden": h, "dropout": d} for h in (32, 64) for d in (0.1, 0.3)]
    calls: dict = {"logs": []}

    class FakeRun:
        def __init__(self, params):
            self.config, self.summary = dict(params), {}

        def log(self, data, step=None):
            calls["logs"].append(data)

        def finish(self, exit_code=0):
            calls.setdefault("exit_codes", []).append(exit_code)

    def sweep(sweep, project=None, entity=None):
        calls["config"], calls["project"] = sweep, project
        return "sweep-123"

    def agent(sweep_id, function, count=None, project=None, entity=None):
        calls["count"] = count
        for _ in range(count):
            function()

    def init(settings=None):
        calls["init_timeout"] = settings.init_timeout
        return FakeRun(grid[len(calls.get("exit_codes", []))])

    fake = types.SimpleNamespace(sweep=sweep, agent=agent, init=init, Settings=lambda **kw: types.SimpleNamespace(**kw))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setattr(sweeps_module, "resolve_mode", lambda explicit=None, *a, **k: ("online", "test server"))

    def objective(params, trial):
        trial.report(1, params["dropout"])
        return params["dropout"] + 1.0 / params["hidden"]

    result = run_sweep(config, objective, n_trials=4, project="exowavenet-sweeps")  # backend=None -> online -> wandb
    assert result.backend == "wandb" and result.sweep_id == "sweep-123"
    assert calls["config"] == config and calls["project"] == "exowavenet-sweeps" and calls["count"] == 4
    assert calls["init_timeout"] <= 30 and calls["exit_codes"] == [0, 0, 0, 0]
    assert {"val_loss": 0.1, "iteration": 1} in calls["logs"]  # intermediate reports go to the W&B run
    local = run_sweep(config, objective, backend="optuna")
    assert list(result.trials.columns) == list(local.trials.columns)
    assert result.best_params == local.best_params == {"hidden": 64, "dropout": 0.1}
    assert result.best_value == local.best_value


def test_wandb_backend_without_server_refuses_at_once(wandb_env: Path) -> None:
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="backend='wandb' needs the W&B server"):
        run_sweep(_config({"a": {"values": [1, 2]}}, "grid"), lambda p: 0.0, backend="wandb")
    assert time.monotonic() - start < 5.0


WORKER = textwrap.dedent(
    """
    import sys
    from exowavenet_lib.tracking import run_sweep
    config = {"method": "random", "metric": {"name": "val_loss", "goal": "minimize"},
              "parameters": {"x": {"distribution": "uniform", "min": 0.0, "max": 1.0}}}
    result = run_sweep(config, lambda p: (p["x"] - 0.3) ** 2, n_trials=int(sys.argv[2]), backend="optuna",
                       storage=sys.argv[1], study_name="shared-study", seed=0)
    print("TRIALS", len(result.trials))
    """
)


def test_two_processes_share_one_sqlite_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(n)], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (5, 4)]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert "TRIALS" in out
    study = optuna.load_study(study_name="shared-study", storage=url)
    trials = study.get_trials()
    assert len(trials) == 9 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert sorted(t.number for t in trials) == list(range(9))
    xs = [t.params["x"] for t in trials]
    assert len(set(xs)) == 9  # same seed in both workers, yet no repeated draws
    # a later call joins the same study and reports every trial in it
    config = {"method": "random", "metric": {"name": "val_loss", "goal": "minimize"},
              "parameters": {"x": {"distribution": "uniform", "min": 0.0, "max": 1.0}}}
    result = run_sweep(config, lambda p: (p["x"] - 0.3) ** 2, n_trials=1, storage=url, study_name="shared-study",
                       seed=0)
    assert len(result.trials) == 10 and result.trials["number"].tolist() == list(range(10))
    assert result.best_value == min(t.value for t in study.get_trials() + [result.study.trials[-1]])


def test_keep_wandb_files_in_points_the_folders_under_root_and_keeps_what_is_set(tmp_path):
    from exowavenet_lib.tracking import keep_wandb_files_in

    environ = {"WANDB_CONFIG_DIR": "/mine"}
    assert keep_wandb_files_in(tmp_path / "runs", environ) == tmp_path / "runs"
    assert (tmp_path / "runs").is_dir()
    assert environ == {"WANDB_CONFIG_DIR": "/mine", "WANDB_CACHE_DIR": str(tmp_path / "runs" / "cache"),
                       "WANDB_DATA_DIR": str(tmp_path / "runs" / "data"),
                       "WANDB_ARTIFACT_DIR": str(tmp_path / "runs" / "artifacts")}
    with pytest.raises(TypeError, match="root"):
        keep_wandb_files_in(3, {})
