#!/usr/bin/env python3
"""Measures the emulator: time from process start to ready, and from POST /api/registrations to a
completed workflow execution. Prints figures; asserts nothing.

    cargo build --release -p emulator && scripts/measure.py target/release/emulator
    scripts/measure.py                      # uses target/debug/emulator (cargo build -p emulator)

Each start uses a fresh SQLite file in a temporary directory.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

STARTS = 5
REGISTRATIONS = 20


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start(binary, directory):
    t0 = time.perf_counter()
    env = dict(os.environ, DATABASE_URL=f"sqlite://{directory}/measure.db")
    process = subprocess.Popen([binary, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    for line in process.stdout:
        if "ready on " in line:
            base = line.split("ready on ")[1].strip()
            break
    else:
        raise SystemExit("the emulator exited before it was ready")
    while http("GET", base + "/_emulator/api/health")[0] != 200:
        time.sleep(0.001)
    return process, base, (time.perf_counter() - t0) * 1000


def registration(n):
    return json.dumps({
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": f"ada.{n}@example.org"},
        "card": {"name": "Ada Lovelace", "number": "4012888888881881", "expiry": "2030-12", "securityCode": "123"},
        "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"},
        "newsletter": True,
    }).encode()


def summary(name, values):
    values = sorted(values)
    p95 = values[max(0, int(len(values) * 0.95) - 1)]
    print(f"{name}: n={len(values)} min={values[0]:.1f} ms median={statistics.median(values):.1f} ms "
          f"p95={p95:.1f} ms max={values[-1]:.1f} ms")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/emulator"
    ready, flows = [], []
    for i in range(STARTS):
        with tempfile.TemporaryDirectory() as directory:
            process, base, ms = start(binary, directory)
            ready.append(ms)
            if i == 0:
                for n in range(REGISTRATIONS):
                    t0 = time.perf_counter()
                    status, body = http("POST", base + "/api/registrations", registration(n),
                                        {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})
                    assert status == 201, (status, body)
                    name = json.loads(body)["registrationId"]
                    while True:
                        executions = json.loads(http("GET", base + "/_emulator/api/executions")[1])
                        if any(e["name"] == name and e["status"] == "SUCCEEDED" for e in executions):
                            break
                        time.sleep(0.001)
                    flows.append((time.perf_counter() - t0) * 1000)
            process.terminate()
            process.wait()
    print(f"binary: {binary}")
    summary("start to ready (process spawn to health 200)", ready)
    summary("POST /api/registrations to SUCCEEDED execution (incl. polling)", flows)


if __name__ == "__main__":
    main()
