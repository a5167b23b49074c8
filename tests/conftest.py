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
