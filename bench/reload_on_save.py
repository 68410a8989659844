"""Seconds from saving a change in a function's source to the first invocation on the new build.

Why: issue 26 asks how long a developer waits, in process mode, between saving a one-line change
and seeing it run, with reload on save (emulator/src/functions/reload.rs). This starts the debug
emulator (`cargo run -p emulator`'s binary, built beforehand) on a free port with a fresh SQLite
file, registers once so that every function is warm, then N times: saves a new confirmation
subject in functions/email/src/lib.rs (a one-line change), and registers again and again until
a confirmation carries that subject. The figure is the time from the save to the first
registration whose confirmation has it (so it includes the rebuild, the reload, a new instance's
start and one registration's flow); the build's own time, as the emulator reports it, is shown
beside it. The source is put back as it was at the end, also on an error, and the emulator is
left to build it once more before it stops.

Run, from the workspace (after `cargo build -p emulator`):

    python3 bench/reload_on_save.py --times 5
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "functions", "email", "src", "lib.rs")
SUBJECT = '"You\'re registered for {}: {}"'


def get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def register(base, email):
    body = {
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": email},
        "card": {"name": "Ada Lovelace", "number": "4012888888881881", "expiry": "2030-12",
                 "securityCode": "123"},
        "billingAddress": {"line1": "12 St James's Square", "city": "London",
                           "postalCode": "SW1Y 4JH", "countryCode": "GB"},
        "newsletter": False,
    }
    request = urllib.request.Request(
        f"{base}/api/registrations", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 201, response.status


def confirmation(base, email, deadline):
    """The confirmation sent to `email`, as the outbox lists it (waits for it)."""
    while time.monotonic() < deadline:
        for item in get(f"{base}/_emulator/api/outbox?limit=50")["items"]:
            text = json.dumps(item)
            if email in text:
                return text
        time.sleep(0.02)
    raise SystemExit(f"no confirmation for {email}")


def wait_for_build(base, number):
    while True:
        report = get(f"{base}/_emulator/api/build")
        if report["builds"] >= number and report["state"] in ("succeeded", "failed"):
            return report
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=5)
    args = parser.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    emulator = os.path.join(target, "debug", "emulator")
    original = open(SOURCE).read()
    assert SUBJECT in original, f"{SOURCE} no longer writes its subject as {SUBJECT}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="reload-on-save-")
    env = dict(os.environ, DATABASE_URL=f"sqlite://{work}/reload.db?mode=rwc", RUST_LOG="warn")
    log = open(os.path.join(work, "emulator.log"), "w")
    process = subprocess.Popen([emulator, "--port", str(port)], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    figures, builds = [], []
    try:
        for _ in range(6000):
            try:
                get(f"{base}/_emulator/api/health")
                break
            except OSError:
                time.sleep(0.1)
        register(base, "warm@example.org")
        confirmation(base, "warm@example.org", time.monotonic() + 60)
        for number in range(1, args.times + 1):
            marker = f"Reload {number} {uuid.uuid4().hex[:6]}"
            saved = time.monotonic()
            with open(SOURCE, "w") as source:
                source.write(original.replace(SUBJECT, f'"{marker}: {{}}: {{}}"'))
            while True:
                email = f"r{number}.{uuid.uuid4().hex[:8]}@example.org"
                register(base, email)
                if marker in confirmation(base, email, time.monotonic() + 60):
                    break
            figures.append(time.monotonic() - saved)
            builds.append(wait_for_build(base, number)["seconds"])
            print(f"change {number}: {figures[-1]:.1f} s to the first invocation on the new build "
                  f"(build {builds[-1]:.1f} s)", flush=True)
    finally:
        with open(SOURCE, "w") as source:
            source.write(original)
        try:
            wait_for_build(base, len(figures) + 1)
        except OSError:
            pass
        process.terminate()
        process.wait(timeout=30)
    print(f"save to first invocation on the new build, {len(figures)} changes: "
          f"p50 {statistics.median(figures):.1f} s, max {max(figures):.1f} s "
          f"(builds: p50 {statistics.median(builds):.1f} s, max {max(builds):.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
