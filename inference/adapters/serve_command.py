"""`fashion-serve`: the local HTTP service (FastAPI + uvicorn, the `serve` extra): `/predict` and
the Open Inference Protocol that Triton's clients speak, on every version of the model.

Binds 127.0.0.1 unless told otherwise: the service has no authentication, so reaching it from
other machines must be a deliberate choice. See docs/serving.md.

FastAPI and uvicorn are imported only after the flags are parsed, so `--help` and flag mistakes
work without the serve extra installed.
"""

from __future__ import annotations

import argparse
import math
import socket
import sys
from pathlib import Path

from inference.adapters.serve_settings import DEFAULT_HOST, DEFAULT_PORT, ServeSettings
from inference.adapters.served_models import ServedModel, default_version, read_config
from inference.core.command_line import OneLineParser, finite_float, int_in, run_command
from inference.core.errors import ArgumentError, InferenceError, ModelError
from inference.core.model_repository import MODEL_FILE, MODEL_NAME, resolve_model_path, versions
from inference.core.predictor import DEVICES, Predictor, thread_limit

DEFAULTS = ServeSettings()


def host_name(text: str) -> str:
    """An argparse `type=` that keeps blanks and control characters out of the address (and of
    the one-line error that names it)."""
    if not text or not text.isprintable() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"expected an address such as 127.0.0.1, ::1 or 0.0.0.0, got {text!r}")
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(prog="fashion-serve", description="Serve Fashion-MNIST predictions over HTTP.")
    parser.add_argument("--model", default=None, help="model.onnx or a Triton repository (default: models/)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument(
        "--threads", type=int_in(1, thread_limit()), default=None, help="onnxruntime threads (default: usable cores)"
    )
    parser.add_argument(
        "--host",
        type=host_name,
        default=DEFAULT_HOST,
        help=f"address to bind (default {DEFAULT_HOST}: this machine only)",
    )
    parser.add_argument("--port", type=int_in(1, 65535), default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument(
        "--max-body-bytes",
        type=int_in(1, 2**40),
        default=DEFAULTS.max_body_bytes,
        help=f"larger requests get 413 (default {DEFAULTS.max_body_bytes})",
    )
    parser.add_argument(
        "--read-timeout",
        type=finite_float(0, low_open=True),
        default=DEFAULTS.read_timeout,
        help=f"a request body not complete after this many seconds gets 408 (default {DEFAULTS.read_timeout:g})",
    )
    parser.add_argument(
        "--header-timeout",
        type=finite_float(0, low_open=True),
        default=DEFAULTS.header_timeout,
        help=f"request line and headers not complete after this many seconds: 408, connection closed "
        f"(default {DEFAULTS.header_timeout:g})",
    )
    parser.add_argument(
        "--decode-slots",
        type=int_in(1, 1024),
        default=DEFAULTS.decode_slots,
        help=f"requests parsed and scored at once on worker threads (default {DEFAULTS.decode_slots})",
    )
    parser.add_argument(
        "--max-queue",
        type=int_in(0, 1_000_000),
        default=DEFAULTS.max_queue,
        help=f"requests waiting beyond those; more get 503 + Retry-After (default {DEFAULTS.max_queue})",
    )
    parser.add_argument(
        "--body-budget-bytes",
        type=int_in(1, 2**40),
        default=DEFAULTS.body_budget_bytes,
        help=f"request bodies held in memory at once; a body that does not fit within "
        f"{DEFAULTS.budget_wait:g} s gets 503 (default {DEFAULTS.body_budget_bytes})",
    )
    parser.add_argument(
        "--max-connections",
        type=int_in(1, 1_000_000),
        default=DEFAULTS.max_connections,
        help=f"open connections; more get 503 except health checks (default {DEFAULTS.max_connections})",
    )
    parser.add_argument(
        "--json-workers",
        type=int_in(0, thread_limit() * 4),
        default=DEFAULTS.json_workers,
        help=f"processes that parse large JSON bodies, 0 for none (default {DEFAULTS.json_workers})",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=finite_float(0),
        default=DEFAULTS.graceful_timeout,
        help=f"on SIGTERM, seconds in-flight requests may take to finish (default {DEFAULTS.graceful_timeout:g})",
    )
    parser.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)  # a bad flag exits 2 here, in one line, before anything is imported
    return run_command("fashion-serve", lambda: serve(args), errors=(ValueError,))


def serve(args: argparse.Namespace) -> int:
    """Load the model, bind the port and serve until SIGTERM or Ctrl-C; every error a user can
    cause is raised for run_command to print in one line (ValueError: onnxruntime's own, from a
    file that is not a model it can load)."""
    try:
        import uvicorn

        from inference.adapters.http_app import create_app
        from inference.adapters.serve_protocol import guarded_protocol
    except ImportError as e:
        raise InferenceError(
            f"{e.name} is missing; install the serve extra: pip install 'fashion-softmax[serve]'"
        ) from None
    predictor = Predictor(default_model_file(args.model), device=args.device, threads=args.threads)
    try:
        listener = bind(args.host, args.port)
    except (OSError, ValueError) as e:  # port in use, address not on this machine, unknown or overlong name
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ArgumentError(
            f"cannot listen on {args.host}:{args.port}: {reason}; pick another --port, or a --host address of this machine"
        ) from None
    settings = ServeSettings(
        max_body_bytes=args.max_body_bytes,
        read_timeout=args.read_timeout,
        header_timeout=args.header_timeout,
        decode_slots=args.decode_slots,
        max_queue=args.max_queue,
        body_budget_bytes=args.body_budget_bytes,
        max_connections=args.max_connections,
        json_workers=args.json_workers,
        graceful_timeout=args.graceful_timeout,
    )
    given = Path(args.model) if args.model is not None else None
    try:
        # A folder serves every version in it; a file is served alone.
        served = ServedModel.from_predictor(predictor, whole_folder=given is None or given.is_dir())
        app = create_app(predictor, settings, served)  # ModelError for an unreadable config.pbtxt
    except BaseException:
        listener.close()  # the port is free again for the fixed command
        raise
    model = app.state.service.model
    address = f"[{args.host}]" if ":" in args.host else args.host  # IPv6 literals are bracketed in URLs
    print(
        f"serving {predictor.describe()} as {model.name} version {model.default} (of {', '.join(model.files)}) "
        f"on http://{address}:{args.port} (docs at /docs, Open Inference Protocol at /v2)",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        app,
        log_level=args.log_level,
        access_log=False,
        http=guarded_protocol(settings),
        timeout_graceful_shutdown=math.ceil(settings.graceful_timeout) if settings.graceful_timeout else None,
    )
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        app.state.service.offload.close()
    return 0


def default_model_file(model: str | None) -> Path:
    """The file of the version served by default: for a repository or model folder, the one its
    config.pbtxt's version_policy picks (Triton's rule), else the file as given."""
    path = resolve_model_path(model)  # ModelError for what holds no model at all
    folder = path.parent.parent
    given = Path(model) if model is not None else Path("models")
    if not given.is_dir() or folder.resolve() not in (given.resolve(), (given / MODEL_NAME).resolve()):
        return path
    available = [str(v) for v, p in versions(folder) if (p / MODEL_FILE).is_file()]
    chosen = default_version(read_config(folder, folder.name), available)
    if chosen is None:
        raise ModelError(
            f"{folder}/config.pbtxt's version_policy names no version that exists "
            f"(there are {', '.join(available)}); list one of them, or use latest"
        )
    return folder / chosen / MODEL_FILE


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here rather than inside uvicorn so a busy port is one clear
    line and exit code 2 instead of uvicorn's log and exit code 3."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say
    # they are TCP, and without it Nagle + delayed ACK add ~40 ms to every response.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # quick restarts after TIME_WAIT
    try:
        listener.bind((host, port))
    except BaseException:
        listener.close()
        raise
    return listener


if __name__ == "__main__":
    sys.exit(main())
