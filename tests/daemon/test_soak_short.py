"""The short versions of `make soak`: real daemon processes, a real emulator recording what it applied, a real
SQLite ledger. Each figure that must be zero is asserted; the parts that need something to happen assert it did."""

from __future__ import annotations

from benchmarks.soak import faults, kills, two_daemons, writers


def test_api_faults_never_escape_raw_and_every_applied_action_is_audited_once() -> None:
    figures = faults.run(decisions=200)
    assert figures["faults_injected"] > 0 and figures["applied"] > 0
    assert (figures["raw_exceptions"], figures["missing"], figures["duplicated"], figures["left_started"]) == (0,) * 4


def test_sigkills_mid_tick_leave_every_applied_action_audited_once() -> None:
    figures = kills.run(kills=2)
    assert figures["applied"] > 0
    assert (figures["missing"], figures["duplicated"], figures["left_started"]) == (0, 0, 0)


def test_writers_and_the_daemon_share_the_ledger_without_loss_or_lock_errors() -> None:
    figures = writers.run(writers=4, batches=15)
    assert figures["rows_written"] == figures["rows_expected"]
    assert (figures["write_errors"], figures["missing"], figures["duplicated"]) == (0, 0, 0)
    assert figures["healthz_200"] == figures["healthz_polls"] > 0


def test_two_daemons_on_a_slow_api_never_act_at_once() -> None:
    figures = two_daemons.run(seconds=8, freezes=1)
    assert figures["actions_applied"] > 0 and figures["samples"] > 0
    assert (figures["samples_both_acting"], figures["calls_while_other_held_lease"]) == (0, 0)
    assert (figures["missing"], figures["duplicated"]) == (0, 0)
