"""Alembic environment for the epmgr ledger.

epmgr runs migrations itself (``epmgr db upgrade``, or automatically when a command opens the ledger) and
passes its connection in ``config.attributes["connection"]``. For the alembic command line, set
``sqlalchemy.url`` (``alembic -x url=...`` or the ``EPMGR_DB_URL`` environment variable).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from epmgr.ledger.engine import make_engine
from epmgr.ledger.schema import metadata

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("EPMGR_DB_URL")
    if not url:
        raise SystemExit("set the ledger URL: alembic -x url=sqlite:///path.db ... (or EPMGR_DB_URL)")
    with make_engine(url).connect() as connection:
        run(connection)
