"""Server-side CPU per SQS API call: the emulator against peer emulators, in one run.

Why: issue 25 asks what the emulator's SQS costs per call next to other local AWS emulators.
Each server is started here on a free loopback port with a fresh state, and one boto3 client
makes sequential calls on one standard queue: N rounds of SendMessage (a ~300-byte JSON body),
ReceiveMessage (one message, no wait) and DeleteMessage of what was received, after 200
unmeasured rounds of warm-up. The server's CPU is its process tree's utime+stime from
/proc/<pid>/stat (with that of any child it has reaped) before and after the measured calls;
the client's own CPU is shown beside it, as both share the machine's cores. The emulator keeps
its queues in SQLite (durable); the peers keep theirs in memory, as they do by default.

Run (the peers from a venv made once):

    python3 -m venv /var/tmp/sqs-peers-venv
    /var/tmp/sqs-peers-venv/bin/pip install ministack "moto[server]" boto3
    python3 bench/sqs_calls.py --calls 2000 --rounds 2

Figures depend on the machine and its load: compare them only within one run, where each round
starts every server in turn.
"""

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_EMULATOR = Path("/var/tmp/conference-registration-target/release/emulator")
DEFAULT_PEERS_VENV = Path("/var/tmp/sqs-peers-venv")
SERVERS = ("emulator", "ministack", "moto")
WARM_UP_ROUNDS = 200
QUEUE_NAME = "sqs-calls-bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BODY = json.dumps(
    {
        "orderId": "ord_5f0c2d1e-8b7a-4c3e-9d2f-1a6b7c8d9e0f",
        "email": "ada.lovelace@example.org",
        "name": "Ada Lovelace",
        "ticket": {"id": "conference-2027-full", "price": 49900, "currency": "EUR"},
        "payment": {"provider": "paypal", "captureId": "5TY05013RG002845M"},
        "createdAt": "2027-03-14T09:26:53Z",
    }
)


@dataclass
class Server:
    command: list[str]
    env: dict[str, str]
    health_path: str
    storage: str


@dataclass
class Result:
    server: str
    round: int
    calls: int
    empty_receives: int
    server_cpu_s: float
    client_cpu_s: float
    wall_s: float


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls", type=int, default=2000, help="measured rounds of send, receive, delete"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="measurements per server, made in turn"
    )
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help="comma-separated, of: " + ", ".join(SERVERS)
    )
    parser.add_argument(
        "--emulator", type=Path, default=DEFAULT_EMULATOR, help="the emulator's binary"
    )
    parser.add_argument(
        "--peers-venv", type=Path, default=DEFAULT_PEERS_VENV, help="the venv of the peers"
    )
    args = parser.parse_args()
    unknown = set(args.servers.split(",")) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_for(name: str, args: argparse.Namespace, port: int, state_dir: Path) -> Server:
    """How `name` is started on `port`, keeping anything it stores under `state_dir`."""
    if name == "emulator":
        return Server(
            [str(args.emulator), "--port", str(port), "--functions", "in-process"],
            {"DATABASE_URL": f"sqlite://{state_dir}/sqs.db?mode=rwc", "RUST_LOG": "warn"},
            "/_emulator/api/health",
            "SQLite file (WAL)",
        )
    if name == "ministack":
        return Server(
            [str(args.peers_venv / "bin/ministack")],
            {"GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"},
            "/_ministack/health",
            "memory (PERSIST_STATE=0, the default)",
        )
    return Server(
        [str(args.peers_venv / "bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        {},
        "/moto-api/",
        "memory",
    )


def missing(name: str, args: argparse.Namespace) -> str | None:
    """Why `name` cannot run here, with how to fix it; None when it can."""
    if name == "emulator":
        if not args.emulator.exists():
            return (
                f"emulator: skipped, no binary at {args.emulator} "
                "(build it: cargo build --release -p emulator)"
            )
        return None
    binary = args.peers_venv / "bin" / ("ministack" if name == "ministack" else "moto_server")
    if not binary.exists():
        venv = args.peers_venv
        return (
            f"{name}: skipped, no {binary}; install it with: python3 -m venv {venv} && "
            f"{venv}/bin/pip install ministack 'moto[server]' boto3"
        )
    return None


def start(server: Server, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            server.command,
            env={**os.environ, **server.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def wait_until_ready(
    process: subprocess.Popen, url: str, log: Path, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before answering: {tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no answer from {url} in {timeout_s:.0f} s: {tail(log)}")


def stop(process: subprocess.Popen) -> None:
    """Stops the process group this script started for one server."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def tail(log: Path, lines: int = 5) -> str:
    return " | ".join(log.read_text(errors="replace").splitlines()[-lines:]) or "(no output)"


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields from the state on (field 3), past the command's parentheses."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def process_tree(root: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(stat_fields(int(entry.name))[1])
            except (FileNotFoundError, ProcessLookupError):
                pass
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def tree_cpu_s(root: int) -> float:
    """CPU seconds of `root` and its descendants: utime+stime, and cutime+cstime of reaped ones."""
    ticks = 0
    for pid in process_tree(root):
        try:
            ticks += sum(int(field) for field in stat_fields(pid)[11:15])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return ticks / CLOCK_TICKS


def sqs_client(port: int):
    return boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def queue_url(sqs) -> tuple[str, str]:
    """A standard queue to measure on, and how it was found."""
    try:
        return sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"], "created with CreateQueue"
    except ClientError as e:
        refusal = e.response["Error"].get("Code", "an error")
    # The template's dead-letter queues have no event source: nothing else receives from them.
    listed = sqs.list_queues().get("QueueUrls", [])
    urls = [url for url in listed if url.endswith("DeadLetterQueue")]
    if not urls:
        raise RuntimeError(f"CreateQueue answered {refusal}; ListQueues names no dead-letter queue")
    name = urls[0].rsplit("/", 1)[1]
    return urls[0], (
        f"{name}, the template's (CreateQueue answered {refusal}; no event source reads it)"
    )


def send_receive_delete(sqs, url: str, rounds: int) -> tuple[int, int]:
    """Makes `rounds` rounds of calls; returns the calls made and the receives that were empty."""
    calls = empty = 0
    for _ in range(rounds):
        sqs.send_message(QueueUrl=url, MessageBody=BODY)
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
        messages = received.get("Messages", [])
        calls += 2
        if messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
            calls += 1
        else:
            empty += 1
    return calls, empty


def measure(name: str, pid: int, sqs, url: str, calls: int, round_: int) -> Result:
    send_receive_delete(sqs, url, WARM_UP_ROUNDS)
    server_before = tree_cpu_s(pid)
    client_before = time.process_time()
    wall_before = time.perf_counter()
    made, empty = send_receive_delete(sqs, url, calls)
    wall = time.perf_counter() - wall_before
    client = time.process_time() - client_before
    return Result(name, round_, made, empty, tree_cpu_s(pid) - server_before, client, wall)


def run_one(name: str, args: argparse.Namespace, round_: int, notes: dict[str, str]) -> Result:
    """Starts `name` on a fresh state, measures one round on it, and stops it."""
    with tempfile.TemporaryDirectory(prefix=f"sqs-calls-{name}-") as state:
        port = free_port()
        server = server_for(name, args, port, Path(state))
        log = Path(state) / "server.log"
        process = start(server, log)
        try:
            wait_until_ready(process, f"http://127.0.0.1:{port}{server.health_path}", log)
            sqs = sqs_client(port)
            url, found = queue_url(sqs)
            notes[name] = f"{describe(server)}; queue: {found}; state: {server.storage}"
            return measure(name, process.pid, sqs, url, args.calls, round_)
        except (BotoCoreError, ClientError) as e:
            raise RuntimeError(f"{type(e).__name__}: {e}; server log: {tail(log)}") from e
        finally:
            stop(process)


def describe(server: Server) -> str:
    """The command line that started `server`, as a shell would take it."""
    env = [f"{key}={value}" for key, value in server.env.items()]
    return f"`{shlex.join(env + server.command)}`"


def venv_version(venv: Path, package: str) -> str:
    script = f"import importlib.metadata as m; print(m.version({package!r}))"
    command = [str(venv / "bin/python"), "-c", script]
    answer = subprocess.run(command, capture_output=True, text=True)
    return answer.stdout.strip() or "unknown"


def versions(servers: list[str], args: argparse.Namespace) -> list[str]:
    python = sys.version.split()[0]
    lines = [f"client: Python {python}, boto3 {boto3.__version__}, botocore {botocore.__version__}"]
    if "emulator" in servers:
        built = datetime.fromtimestamp(args.emulator.stat().st_mtime).isoformat(" ", "minutes")
        git = ["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"]
        commit = subprocess.run(git, capture_output=True, text=True).stdout.strip() or "unknown"
        lines.append(f"emulator: {args.emulator} (built {built}; repository at {commit})")
    for peer in ("ministack", "moto"):
        if peer in servers:
            version = venv_version(args.peers_venv, peer)
            lines.append(f"{peer}: {peer} {version} (in {args.peers_venv})")
    return lines


def table(results: list[Result]) -> str:
    rows = [
        "| server | round | server CPU per call | calls/s | client CPU per call | calls "
        "| empty receives |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {r.server} | {r.round} | {1000 * r.server_cpu_s / r.calls:.3f} ms "
            f"| {r.calls / r.wall_s:,.0f} | {1000 * r.client_cpu_s / r.calls:.3f} ms "
            f"| {r.calls} | {r.empty_receives} |"
        )
    return "\n".join(rows)


def main() -> None:
    args = parse_args()
    servers = []
    for name in args.servers.split(","):
        reason = missing(name, args)
        if reason:
            print(reason)
        else:
            servers.append(name)
    results, notes, failures = [], {}, []
    for round_ in range(1, args.rounds + 1):
        for name in servers:
            try:
                results.append(run_one(name, args, round_, notes))
            except (RuntimeError, OSError) as e:
                failures.append(f"{name}, round {round_}: not measured: {e}")
    print(f"\ncommand: python3 {shlex.join(sys.argv)}")
    print(
        f"{args.calls} x (SendMessage, ReceiveMessage, DeleteMessage) per measurement "
        f"(one client, sequential, after {WARM_UP_ROUNDS} rounds of warm-up; "
        f"{len(BODY)}-byte bodies; {os.cpu_count()} cores)\n"
    )
    print(table(results) + "\n")
    started = [f"{name}: {note}" for name, note in notes.items()]
    for line in versions(servers, args) + started + failures:
        print(f"- {line}")


if __name__ == "__main__":
    main()
