"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for the module, restored afterwards.

    The test machine's 2 cores are shared; with 2 OpenMP threads competing with other processes a
    forward pass slowed from 0.1 s to 4 s. Results do not depend on the thread count.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# The experiment every test of the Experiment and Learn pages reads: the real run in the real format
# (effnet-experiment/2), five networks, three seeds (so the verdict rule can decide), trained once per
# test session. About 2.5 minutes on one busy core of this machine.
TINY_EXPERIMENT = {"base": "d0.5,w0.25,r56", "flops_multiple": 2.5, "train_size": 200, "test_size": 100, "val_size": 50,
                   "epochs": 2, "seeds": (0, 1, 2)}


@pytest.fixture(scope="session")
def experiment_results(tmp_path_factory):
    """The folder of a tiny experiment (results.json and 15 state dicts), trained here once per session.

    Tests that change files copy it first (`shutil.copytree`): it is shared."""
    import torch

    from effnet.experiment.data import SyntheticSource
    from effnet.experiment.run import run_experiment
    from effnet.experiment.train import Recipe

    settings = TINY_EXPERIMENT
    out = tmp_path_factory.mktemp("experiment")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_experiment(out, SyntheticSource(settings["train_size"], settings["test_size"], easy=True,
                                            val_size=settings["val_size"]),
                       base=settings["base"], flops_multiple=settings["flops_multiple"],
                       recipe=Recipe(epochs=settings["epochs"]), seeds=settings["seeds"], device="cpu",
                       command="tests/conftest.py: experiment_results (a tiny run for the tests)")
    finally:
        torch.set_num_threads(previous)
    return out
