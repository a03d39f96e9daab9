"""A real two-node Ray cluster on this machine: the cluster test and benchmarks/ray_speed.py.

A head node and a worker node, each its own `ray start` with one CPU, joined the way docs/scaling-out.md's
cluster section shows. Current Ray authenticates every cluster RPC with a token, and a node
without it cannot join: the cluster gets a fresh token in its own folder (RAY_AUTH_TOKEN_PATH),
and HOME points there too, so nothing lands in the user's ~/.ray. Every port is chosen free.

Ray turns the 127.0.0.1 it is given into this machine's own address (a loopback address would
not reach other machines), so the nodes talk over this machine's interface, and only to
themselves. Stopping kills exactly the processes this cluster started, found by the process
sessions of its two `ray start` commands: `ray stop` would kill every Ray on the machine,
another test's or another user's included.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
RAY = Path(sys.executable).parent / "ray"
START_TIMEOUT_S = 120  # a node starts in 5-10 s on a quiet 2-core machine; CI can be far slower
OBJECT_STORE_BYTES = 100 * 2**20  # the 10,000 test images are 7.8 MB; Ray's default is 30 % of RAM per node
NODE_PORTS = (
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--runtime-env-agent-port",
    "--metrics-export-port",
)
HEAD_PORTS = ("--port", "--ray-client-server-port", "--dashboard-port")

NODES_SCRIPT = """
import json, sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
print(json.dumps([{"id": n["NodeID"], "cpus": n["Resources"].get("CPU", 0)} for n in ray.nodes() if n["Alive"]]))
"""


def free_ports(count: int) -> list[int]:
    """`count` different ports that nothing listens on now (all held open until all are chosen)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("", 0))  # every interface: Ray listens on this machine's address, not loopback alone
        return [s.getsockname()[1] for s in sockets]


@dataclass
class LocalCluster:
    address: str  # host:port of the head, for --ray-address
    env: dict[str, str]  # what every process that talks to the cluster needs (the token above all)
    sessions: list[int] = field(default_factory=list)  # process sessions of the `ray start` commands

    def alive_nodes(self, timeout: float = START_TIMEOUT_S) -> list[dict]:
        """[{"id", "cpus"}] for each node the head counts as alive, asked from a fresh driver."""
        out = subprocess.run(
            [sys.executable, "-c", NODES_SCRIPT, self.address],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    def start_node(self, flags: list[str], ports: dict[str, int]) -> None:
        chosen = [arg for name, port in ports.items() for arg in (name, str(port))]
        process = subprocess.Popen(
            [
                str(RAY),
                "start",
                "--node-ip-address",
                HOST,
                "--num-cpus",
                "1",
                "--disable-usage-stats",
                "--object-store-memory",
                str(OBJECT_STORE_BYTES),
                *flags,
                *chosen,
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # the node's daemons and workers stay in this session: see stop()
        )
        self.sessions.append(process.pid)
        try:
            output, _ = process.communicate(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"ray start {' '.join(flags)} failed ({process.returncode}):\n{output[-3000:]}")

    def stop(self) -> None:
        """SIGKILL every process in this cluster's sessions: daemons, agents, workers."""
        for pid in (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()):
            try:
                if os.getsid(pid) in self.sessions:
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass  # gone meanwhile, or not ours


@contextlib.contextmanager
def two_node_cluster(folder: Path) -> Iterator[LocalCluster]:
    """A running head and worker node, one CPU each, temp files in `folder`; stopped on exit."""
    token = folder / "auth_token"
    token.write_text(secrets.token_hex(32))  # what `ray get-auth-token --generate` writes
    token.chmod(0o600)
    env = dict(
        os.environ, HOME=str(folder), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), RAY_USAGE_STATS_ENABLED="0"
    )
    env.pop("RAY_ADDRESS", None)  # this cluster, not one the environment points at
    ports = free_ports(len(HEAD_PORTS) + 2 * len(NODE_PORTS))  # all at once: all different
    head = dict(zip(HEAD_PORTS + NODE_PORTS, ports, strict=False))
    worker = dict(zip(NODE_PORTS, ports[len(head) :], strict=False))
    cluster = LocalCluster(f"{HOST}:{head['--port']}", env)
    try:
        cluster.start_node(["--head", "--include-dashboard", "false", "--temp-dir", str(folder / "ray")], head)
        cluster.start_node(["--address", cluster.address], worker)
        yield cluster
    finally:
        cluster.stop()
