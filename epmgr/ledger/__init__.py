"""The ledger: every request, state change and action, in SQLite or PostgreSQL."""

from epmgr.ledger.engine import make_engine, normalize_url
from epmgr.ledger.store import Ledger, open_ledger

__all__ = ["Ledger", "make_engine", "normalize_url", "open_ledger"]
