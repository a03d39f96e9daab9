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
from collections.abc import Callable
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


def settings_flags() -> tuple[tuple[str, Callable[[str], object], str], ...]:
    """The flags that set a ServeSettings field, named after it (--max-body-bytes sets
    max_body_bytes): (field, argparse type, help with {default} and {settings})."""
    return (
        ("max_body_bytes", int_in(1, 2**40), "larger requests get 413 (default {default})"),
        (
            "read_timeout",
            finite_float(0, low_open=True),
            "a request body not complete after this many seconds gets 408 (default {default:g})",
        ),
        (
            "header_timeout",
            finite_float(0, low_open=True),
            "request line and headers not complete after this many seconds: 408, connection closed "
            "(default {default:g})",
        ),
        (
            "decode_slots",
            int_in(1, 1024),
            "requests parsed and scored at once on worker threads (default {default})",
        ),
        (
            "max_queue",
            int_in(0, 1_000_000),
            "requests waiting beyond those; more get 503 + Retry-After (default {default})",
        ),
        (
            "body_budget_bytes",
            int_in(1, 2**40),
            "request bodies held in memory at once; a body that does not fit within "
            "{settings.budget_wait:g} s gets 503 (default {default})",
        ),
        (
            "max_connections",
            int_in(1, 1_000_000),
            "open connections; more get 503 except health checks (default {default})",
        ),
        (
            "json_workers",
            int_in(0, thread_limit() * 4),
            "processes that parse large JSON bodies, 0 for none (default {default})",
        ),
        (
            "graceful_timeout",
            finite_float(0),
            "on SIGTERM, seconds in-flight requests may take to finish (default {default:g})",
        ),
    )


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
    for name, kind, about in settings_flags():
        default = getattr(DEFAULTS, name)
        help_text = about.format(default=default, settings=DEFAULTS)
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=default, help=help_text)
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
    settings = ServeSettings(**{name: getattr(args, name) for name, _, _ in settings_flags()})
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
