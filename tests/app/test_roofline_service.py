"""app.services.roofline: the CPU roof is probed once, never by two sessions at the same time."""

from __future__ import annotations

import threading
import time

from app.services import roofline as roofline_service
from effnet.cost.devices import Device


def test_sessions_asking_at_once_share_one_probe_and_never_probe_together(monkeypatch):
    running, most_at_once, calls = [0], [0], []
    guard = threading.Lock()

    def slow_probe() -> Device:  # stands in for effnet's half-second probe
        with guard:
            running[0] += 1
            most_at_once[0] = max(most_at_once[0], running[0])
            calls.append(threading.get_ident())
        time.sleep(0.2)
        with guard:
            running[0] -= 1
        return Device("test CPU", {"float32": 1.0}, 10.0, "a test")

    monkeypatch.setattr(roofline_service, "probe_cpu", slow_probe)
    roofline_service.cpu_roof.clear()
    results = []
    threads = [threading.Thread(target=lambda: results.append(roofline_service.cpu_roof())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    roofline_service.cpu_roof.clear()  # the next caller probes the real CPU
    assert len(results) == 8 and all(result == results[0] for result in results)
    assert results[0].name == "test CPU"
    assert len(calls) == 1  # one probe, shared
    assert most_at_once[0] == 1  # a second probe at the same time would halve both figures
