"""A deleted endpoint costs nothing afterwards, whether deleted through epmgr or outside it."""

from __future__ import annotations

import time
from datetime import timedelta

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.clock import SystemClock
from epmgr.domain.cost import spend_between
from epmgr.domain.model import ActionKind, Actor, ChangeSource, EndpointSpec, EndpointState, Instance
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer
from epmgr.ledger import Ledger
from epmgr.observe import observe_namespace
from epmgr.operations import Operator
from tests.adapters.conftest import FAST

CPU = Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")


def test_deleted_outside_epmgr_is_recorded_as_deleted_not_unknown(ledger: Ledger) -> None:
    clock = SystemClock()
    with EmulatorServer(timings=FAST, access_log=False) as server:
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
        api.create(EndpointSpec("gone", "gpt2", CPU))
        api.create(EndpointSpec("stays", "gpt2", CPU))
        observe_namespace(api, ledger, clock)
        api.delete("gone")  # by someone else, e.g. in the HF UI
        written = observe_namespace(api, ledger, clock)  # ("stays" may move on from pending meanwhile: real time)
        assert [(c.ref.name, c.to_state) for c in written if c.ref.name == "gone"] == [("gone", EndpointState.DELETED)]
        assert [c for c in observe_namespace(api, ledger, clock) if c.ref.name == "gone"] == []  # recorded once

    (ref,) = [r.ref for r in ledger.endpoints() if r.ref.name == "gone"]
    changes = ledger.state_changes(ref)
    later = changes[-1].observed_at + timedelta(days=3)
    spend = spend_between(changes, changes[-1].observed_at, later)
    assert spend.usd == 0 and spend.unknown == timedelta(0)


def test_delete_through_epmgr_records_the_deletion_it_caused(ledger: Ledger) -> None:
    with EmulatorServer(timings=FAST, access_log=False) as server:
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
        op = Operator(api, ledger, SystemClock(), Actor.CLI)
        op.act(ActionKind.CREATE, "bye", "test", lambda: api.create(EndpointSpec("bye", "gpt2", CPU)))
        time.sleep(0.05)
        op.act(ActionKind.DELETE, "bye", "test", lambda: api.delete("bye"))
    last = ledger.last_state_change(op.ref("bye"))
    assert last is not None and last.to_state == EndpointState.DELETED and last.source == ChangeSource.ACTION


def test_report_money_has_the_sign_first_and_no_negative_zero() -> None:
    from decimal import Decimal

    from epmgr.report.data import money

    assert [money(Decimal(v)) for v in ("-0.001", "-0.03", "1.5", "0")] == ["$0.00", "-$0.03", "$1.50", "$0.00"]
