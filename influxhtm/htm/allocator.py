"""Giving the C heap's free memory back to the system in a process that holds many models.

A model's arrays (the synapse classes and forward lists of its temporal memory) grow a little at a
time. In glibc's heap, an array that grows among other models' arrays moves and leaves a hole that the
next, slightly larger request cannot use, so models fed in turn, as a UDF server feeds its groups,
leave much of the heap free but resident (about 0.8 MB per machine_temperature model after 20,000
records; `bench/bench_engine.py` prints the RSS per model fed both ways). `malloc_trim` hands the
whole free pages inside the heap back to the system; a process holding models calls it now and then.
"""

from __future__ import annotations

import ctypes
import logging
import threading

log = logging.getLogger(__name__)

TRIM_INTERVAL_S = 30.0


def release_free_heap() -> bool:
    """Returns the C heap's whole free pages to the system (glibc `malloc_trim`; a few milliseconds for
    a heap of gigabytes). False where the C library has none, which changes nothing."""
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return False
    malloc_trim(ctypes.c_size_t(0))
    return True


class HeapTrimmer:
    """A daemon thread that calls `release_free_heap` every `interval` seconds until `stop`."""

    def __init__(self, interval: float = TRIM_INTERVAL_S):
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heap-trimmer", daemon=True)

    def start(self) -> HeapTrimmer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            if not release_free_heap():
                log.info("no malloc_trim in this C library: the heap's free memory stays resident")
                return
