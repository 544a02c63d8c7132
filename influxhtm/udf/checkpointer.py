"""Background checkpoints: a model's connection hands over a copy of the model and goes on at once.

Saving a model (serialize, compress, checksum, write, fsync: tens of milliseconds for a few MB) on the
connection's worker thread would stall its stream every `checkpointEvery` points. Instead the worker
starts the checkpoint in the store (`ModelStore.begin_checkpoint`: later inputs go to the next journal),
copies the detector (a few milliseconds) and queues both here; one thread per process saves and commits
them. Until a checkpoint is committed, the previous one plus the journals reproduce the model, so a crash
at any moment loses nothing. The queue is short: when it is full the worker simply tries again on the
model's next point, which bounds the memory held by copies.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Callable

from influxhtm.htm import AnomalyDetector
from influxhtm.store import ModelMetadata, ModelStore, StoreError

log = logging.getLogger("influxhtm.udf")


class CheckpointJob:
    """One model's state at one moment, to be written as checkpoint `generation` of `model_id`."""

    def __init__(
        self,
        model_id: str,
        generation: int,
        detector: AnomalyDetector,
        metadata: ModelMetadata,
        done: Callable[[bool], None],
        failed: Callable[[BaseException], None] | None = None,
    ):
        self.model_id = model_id
        self.generation = generation
        self.detector = detector
        self.metadata = metadata
        self.done = done  # called with True once the checkpoint is on disk (or superseded), False on failure
        self.failed = failed  # called with the error of a failed write (counts and logs it), before done


class Checkpointer:
    """Saves queued checkpoint jobs on one thread, which runs while there are jobs. It is not a daemon:
    the interpreter waits for a save in progress at exit instead of killing it inside the engine."""

    def __init__(self, store: ModelStore, on_written: Callable[[], None] = lambda: None, max_queued: int = 2):
        self.store = store
        self.on_written = on_written
        self.max_queued = max_queued
        self._jobs: collections.deque[CheckpointJob] = collections.deque()
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None

    def has_room(self) -> bool:
        """True if a job submitted now would be accepted."""
        with self._lock:
            return not self._closed and len(self._jobs) < self.max_queued

    def submit(self, job: CheckpointJob) -> bool:
        """Queue a job; False (job not taken) when the queue is full or the checkpointer is closed."""
        with self._lock:
            if self._closed or len(self._jobs) >= self.max_queued:
                return False
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="checkpointer")
                self._thread.start()
            return True

    def close(self) -> None:
        """Write what is queued, then refuse later submits."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._thread = None
                    return
                job = self._jobs.popleft()
            job.done(self._write(job))

    def _write(self, job: CheckpointJob) -> bool:
        try:
            if self.store.commit_checkpoint(job.model_id, job.generation, job.detector.save(), job.metadata):
                self.on_written()
            return True
        except (OSError, StoreError, ValueError) as exc:
            if job.failed is not None:
                job.failed(exc)
            else:
                log.error(
                    "model %s: background checkpoint failed (the journal keeps every input): %s", job.model_id, exc
                )
            return False
