"""Seeded generators of one endpoint's traffic: they live in :mod:`epmgr.simulate.traffic` (the demo needs them
from an installed epmgr); re-exported here for the benchmarks."""

from epmgr.simulate.traffic import (
    DAY,
    HOUR,
    KINDS,
    START,
    bursts,
    diurnal_chat,
    nightly_batch,
    office_hours,
    periodic_batch,
    sporadic_dev,
    steady,
)

__all__ = [
    "DAY",
    "HOUR",
    "KINDS",
    "START",
    "bursts",
    "diurnal_chat",
    "nightly_batch",
    "office_hours",
    "periodic_batch",
    "sporadic_dev",
    "steady",
]
