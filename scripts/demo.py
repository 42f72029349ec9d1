"""The epmgr demo: everything on this machine, no token, no GPU (run by `make demo`).

Each step prints the command a user would type, then runs it. The emulator stands in for Hugging Face, on
loopback, with timings of seconds instead of minutes; the ledger is a SQLite file in .demo/. It ends on a simulated
week of the same endpoints at real timings (scripts/demo_week.py): what epmgr saves, and against what.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import demo_client
import demo_cost
import demo_daemon
import demo_fallback
import demo_rag
import demo_week
import httpx

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = Path(os.environ.get("EPMGR_DEMO_DIR", ROOT / ".demo"))
BIN = Path(sys.executable).parent
EPMGR = str(BIN / "epmgr")
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say(title: str) -> None:
    print(f"\n{BOLD}== {title}{RESET}", flush=True)


def run(*args: str, env: dict[str, str]) -> str:
    """Run `epmgr ARGS` as a user would, showing the command and its output; stop the demo if it fails."""
    print(f"{DIM}$ epmgr {shlex.join(args)}{RESET}", flush=True)
    result = subprocess.run([EPMGR, *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(result.stdout, end="", flush=True)
    if result.returncode != 0:
        raise SystemExit(f"demo step failed: epmgr {shlex.join(args)} (exit {result.returncode})")
    return result.stdout


def start_emulator(port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        EPMGR, "emulator", "serve", "--port", str(port), "--pending", "1s", "--initializing", "3s",
        "--cold-start", "3s", "--minute", "2s",
    ]  # fmt: skip
    print(f"{DIM}$ epmgr {shlex.join(command[1:])} &   # access log in {log}{RESET}", flush=True)
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/agent-harnesses", timeout=1)
            return process
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the emulator did not start; see {log}") from None
            time.sleep(0.1)


def main() -> None:
    from epmgr.emulator import DEMO_TOKEN, DEMO_USER

    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "EPMGR_"))}
    env.update(EPMGR_DB_URL=f"sqlite:///{DEMO_DIR / 'ledger.db'}", HF_HOME=str(DEMO_DIR / "hf_home"))

    say("The ledger: a SQLite file, created and migrated")
    run("db", "upgrade", env=env)
    run("db", "current", env=env)

    say("A stand-in for Hugging Face: the emulator on loopback (no token, no GPU)")
    port = free_port()
    emulator = start_emulator(port, DEMO_DIR / "emulator.log")
    env.update(EPMGR_HF_API_URL=f"http://127.0.0.1:{port}", HF_TOKEN=DEMO_TOKEN, EPMGR_NAMESPACE=DEMO_USER)
    print(f"export EPMGR_HF_API_URL=http://127.0.0.1:{port} HF_TOKEN=<the emulator's demo token> EPMGR_NAMESPACE=demo")
    try:
        say("Create two endpoints (a GPU one waits until it serves)")
        gpu = ("--vendor", "aws", "--region", "us-east-1", "--accelerator", "gpu", "--instance-size", "x1")
        run("create", "phi3-mini", "--repo", "microsoft/Phi-3-mini-4k-instruct", *gpu, "--instance-type",
            "nvidia-l4", "--task", "text-generation", "--wait", env=env)  # fmt: skip
        run("create", "llama-8b", "--repo", "meta-llama/Llama-3.1-8B-Instruct", *gpu, "--instance-type",
            "nvidia-a10g", "--task", "text-generation", env=env)  # fmt: skip
        run("list", env=env)

        say("Send traffic to phi3-mini with huggingface_hub's own InferenceClient")
        url = run("show", "phi3-mini", "--json", env=env).split('"url": "')[1].split('"')[0]
        from huggingface_hub import InferenceClient

        client = InferenceClient(model=url, token=DEMO_TOKEN)
        for prompt in ("What does a paused endpoint cost?", "Say hello."):
            print(f"  > {prompt}\n  < {client.text_generation(prompt, max_new_tokens=12)}")

        say("Pause one, then resume it and wait until it serves again")
        run("pause", "llama-8b", "--reason", "nobody uses it at night", env=env)
        run("resume", "llama-8b", "--wait", "--timeout", "1m", env=env)

        say("Scale phi3-mini to zero: free, keeps its URL, wakes on the next request")
        run("scale-to-zero", "phi3-mini", env=env)
        run("list", env=env)

        demo_daemon.chapter(env, run, say)
        demo_client.chapter(env, run, say)
        demo_fallback.chapter(env, run, say)  # issue 14: served by the fallback during a cold start
        demo_rag.chapter(env, run, say)
        demo_cost.chapter(env, run, say)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    demo_week.chapter(env, say)
    print(f"\n{BOLD}Done.{RESET} Ledger: {DEMO_DIR / 'ledger.db'}")


if __name__ == "__main__":
    main()
