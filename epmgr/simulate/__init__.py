"""``epmgr simulate``: what each policy would have cost on recorded or generated traffic.

:mod:`~epmgr.simulate.traces` reads request streams, :mod:`~epmgr.simulate.specs` parses ``--policy`` specs,
:mod:`~epmgr.simulate.engine` drives the production ``decide()`` over a simulated endpoint and clock,
:mod:`~epmgr.simulate.oracle` is the offline optimum, :mod:`~epmgr.simulate.evaluate` sums the runs and
:mod:`~epmgr.simulate.report` renders them (table, JSON, HTML).
"""
