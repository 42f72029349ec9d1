"""Demo chapter: what the endpoints cost so far, the forecast, the savings, and the HTML report.

Goes last in the story (after the endpoints ran, paused and scaled to zero), so the ledger has a history to bill:
``from demo_cost import chapter; chapter(env, run, say)`` right before the emulator is stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def chapter(env: dict[str, str], run: Callable[..., str], say: Callable[[str], None]) -> None:
    """Show the cost table (which looks at the namespace first), then write the HTML report and a PNG."""
    ledger = env.get("EPMGR_DB_URL", "sqlite:///.demo/ledger.db").removeprefix("sqlite:///")
    report = Path(ledger).parent / "cost-report.html"
    say("What it cost: billed replica-hours, spend, forecasts and savings (HF bills per started minute)")
    run("cost", "--since", "1d", env=env)
    say("The same per day, and as a self-contained HTML report (opens offline) with its charts")
    run("cost", "--since", "1d", "--by", "day", "--offline", "--html", str(report), env=env)
    print(f"  open {report.resolve()}")
