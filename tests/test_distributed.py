"""Scale-out on existing engines: MirroredStrategy and keras-tuner's distributed tuning.

Both run in subprocesses (`tests/_distributed_workers.py`): logical devices must be
set before TensorFlow initializes, and distributed tuning needs separate processes.
Every process is killed and waited for whatever happens.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKERS = Path(__file__).resolve().parent / "_distributed_workers.py"
TIMEOUT = 300
MIRRORED = pytest.mark.tensorflow_only(reason="tf.distribute.MirroredStrategy")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def results(log: Path) -> list[dict]:
    text = log.read_text() if log.exists() else ""
    return [json.loads(line[len("RESULT "):]) for line in text.splitlines()
            if line.startswith("RESULT ")]


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(log, "w") as handle:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, str(WORKERS), *args], stdout=handle,
                                stderr=subprocess.STDOUT, env=env)


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - kill() does not fail
            pass


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="module")
def mirrored_run(tmp_path_factory):
    """One subprocess: default_dnn on one device, then on two logical CPUs."""
    tmp_path = tmp_path_factory.mktemp("mirrored")
    log = tmp_path / "mirrored.log"
    process = start(["mirrored", str(tmp_path / "tuning")], log, base_env())
    try:
        process.wait(timeout=TIMEOUT)
    finally:
        stop_all([process])
    found = results(log)
    assert process.returncode == 0 and found, log.read_text()[-3000:]
    return found[-1]


@MIRRORED
def test_mirrored_strategy_matches_one_device(mirrored_run):
    assert mirrored_run["replicas"] == 2
    assert mirrored_run["single"] >= 0.9
    assert abs(mirrored_run["mirrored"] - mirrored_run["single"]) <= 0.02, mirrored_run


@MIRRORED
def test_tuner_with_distribution_strategy(mirrored_run):
    assert mirrored_run["tuner_status"] == "COMPLETED" and mirrored_run["tuner_score"] > 0.5


@MIRRORED
def test_compile_recipe_defaults_under_mirrored_strategy(mirrored_run):
    assert mirrored_run["mirrored_default_error"] is None, mirrored_run["mirrored_default_error"]


def test_distributed_tuning_chief_and_two_workers(tmp_path):
    directory = tmp_path / "shared"
    directory.mkdir()
    port = str(free_port())
    processes: list[subprocess.Popen] = []
    logs = {name: tmp_path / f"{name}.log" for name in ("chief", "tuner0", "tuner1")}
    try:
        for name, log in logs.items():
            env = base_env()
            env.update(KERASTUNER_TUNER_ID=name, KERASTUNER_ORACLE_IP="127.0.0.1",
                       KERASTUNER_ORACLE_PORT=port)
            processes.append(start(["tune", str(directory)], log, env))
            if name == "chief":
                time.sleep(1.0)  # workers wait for the chief anyway (gRPC wait_for_ready)
        deadline = time.monotonic() + TIMEOUT
        for process in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        stop_all(processes)
    dump = "\n".join(f"--- {n}\n{log.read_text()[-2000:]}" for n, log in logs.items())
    assert [p.returncode for p in processes] == [0, 0, 0], dump
    chief = results(logs["chief"])[-1]
    ran = [r["ran"] for name in ("tuner0", "tuner1") for r in results(logs[name]) if "ran" in r]
    by_worker = {name: [r["ran"] for r in results(logs[name]) if "ran" in r]
                 for name in ("tuner0", "tuner1")}
    assert len(ran) == len(set(ran)), by_worker  # each trial id run once
    assert sorted(ran) == sorted(chief["trials"]), (by_worker, chief)
    assert len(chief["trials"]) == 4 and set(chief["trials"].values()) == {"COMPLETED"}
    assert chief["best_trial"] in chief["trials"] and 0.0 < chief["best_score"] <= 1.0
    assert {"activation", "learning_rate", "batch_size"} <= set(chief["best"])
    assert all(results(logs[name])[-1].get("done") for name in ("tuner0", "tuner1")), dump
