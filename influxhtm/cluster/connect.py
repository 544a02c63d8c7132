"""Joining a Ray cluster: the one way the UDF front and the batch jobs connect."""

from __future__ import annotations

import logging

import ray


def connect(address: str) -> None:
    """Join the Ray cluster at address; 'auto' starts a new local Ray."""
    ray.init(address="local" if address == "auto" else address, logging_level=logging.WARNING)
