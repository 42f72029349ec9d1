"""Demo chapter: the daemon, with short timings, against the emulator.

It pre-warms an endpoint at the start of its schedule window, scales an idle one to zero and later pauses it, and
shows `epmgr status` before and after. Run by scripts/demo.py (`make demo`) as ``chapter(env, run, say)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

PREWARM_S = 8  # resume this long before the window opens: the emulator's cold start is 4 s
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CPU = ("--vendor", "aws", "--region", "us-east-1", "--accelerator", "cpu", "--instance-type", "intel-spr",
       "--instance-size", "x1")  # fmt: skip


def config_text(start: datetime) -> str:
    """Idle stages of seconds instead of minutes, and a window that opens at ``start`` (UTC, a whole minute)."""
    end = start + timedelta(hours=1)
    window = f"{DAYS[start.weekday()]} {start:%H:%M}-{end:%H:%M}"
    return f"""# epmgr daemon demo: short timings
[daemon]
interval = "10s"           # the demo runs single ticks (--once); this sets the observation gap

[defaults]
scale_to_zero_after = "4s"   # no requests for 4 s: scale to zero (wakes on the next request)
pause_after = "20s"          # no requests for 20 s: pause (frees quota, needs a resume)
min_uptime = "0s"

[[endpoints]]
name = "idle-demo"

[[endpoints]]
name = "office-demo"
schedule = {{ tz = "UTC", active = ["{window}"], on_start = "resume", on_end = "pause", prewarm = "{PREWARM_S}s" }}
"""


def chapter(env: dict[str, str], run: Callable[..., str], say: Callable[[str], None]) -> None:
    demo_dir = Path(env["EPMGR_DB_URL"].removeprefix("sqlite:///")).parent
    config = demo_dir / "daemon.toml"
    # The window opens at the next whole minute: office-demo is paused before it, so the edge has work to do.
    opens = (datetime.now(timezone.utc) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    config.write_text(config_text(opens))
    with_config = ("--config", str(config))

    say("The daemon: policies in epmgr.toml (idle stages of seconds here, and an office-hours window)")
    print(config.read_text())
    run("create", "office-demo", "--repo", "openai-community/gpt2", *CPU, "--wait", env=env)
    run("pause", "office-demo", "--reason", "closed for the night", env=env)
    run("create", "idle-demo", "--repo", "openai-community/gpt2", *CPU, "--wait", env=env)
    run(*with_config, "status", env=env)

    say("A dry run: what the daemon would do, audited as dry_run, nothing changed")
    run(*with_config, "daemon", "--once", "--dry-run", env=env)

    say("5 s later with no requests: idle-demo is scaled to zero (it wakes on the next request)")
    time.sleep(5)
    run(*with_config, "daemon", "--once", env=env)

    say("over 20 s idle: idle-demo is paused (costs nothing, frees its quota)")
    time.sleep(9)
    run(*with_config, "daemon", "--once", env=env)

    lead_at = opens - timedelta(seconds=PREWARM_S)
    wait = (lead_at - datetime.now(timezone.utc)).total_seconds() + 1
    if wait > 0:  # else the last tick was already inside the lead and pre-warmed it (see its log above)
        say(
            f"The office window opens at {opens:%H:%M} UTC; {PREWARM_S} s before (one cold start ahead, "
            f"in {wait:.0f} s) the daemon pre-warms office-demo"
        )
        time.sleep(wait)
        run(*with_config, "daemon", "--once", env=env)
    time.sleep(max((opens - datetime.now(timezone.utc)).total_seconds(), 0))
    say(f"{opens:%H:%M:%S} UTC, the window opens: office-demo is already running, so nobody waits")
    run(*with_config, "status", env=env)
    run("list", env=env)
