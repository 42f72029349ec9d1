"""Tests of epmgr.report: the cost report's model, tables and HTML, on ledger histories at two scales."""
