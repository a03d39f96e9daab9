"""`fashion-serve`: the local HTTP service (FastAPI + uvicorn, the `serve` extra) on one Predictor.

Binds 127.0.0.1 unless told otherwise: the service has no authentication, so reaching it from
other machines must be a deliberate choice. For serving at scale use Triton with models/.

FastAPI and uvicorn are imported only after the flags are parsed, so `--help` and flag mistakes
work without the serve extra installed.
"""

from __future__ import annotations

import argparse
import socket
import sys

from inference.core.command_line import OneLineParser, finite_float, int_in
from inference.core.errors import InferenceError
from inference.core.predictor import DEVICES, Predictor, thread_limit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_BODY = 8 * 1024 * 1024  # 8 MiB: ~10,700 images as raw bytes, ~2,000 as JSON
# 8 MiB at 10 Mbit/s takes ~7 s, so a real client fits; a client trickling bytes holds its
# connection for no longer than this.
DEFAULT_READ_TIMEOUT = 10.0


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
    parser.add_argument("--threads", type=int_in(1, thread_limit()), default=None,
                        help="onnxruntime threads (default: usable cores)")
    parser.add_argument("--host", type=host_name, default=DEFAULT_HOST,
                        help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int_in(1, 65535), default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument(
        "--max-body-bytes", type=int_in(1, 2**40), default=DEFAULT_MAX_BODY,
        help=f"larger requests get 413 (default {DEFAULT_MAX_BODY})",
    )
    parser.add_argument(
        "--read-timeout", type=finite_float(0, low_open=True), default=DEFAULT_READ_TIMEOUT,
        help=f"a request body not complete after this many seconds gets 408 (default {DEFAULT_READ_TIMEOUT:g})",
    )
    parser.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvicorn

        from inference.adapters.http_app import create_app
    except ImportError as e:
        print(f"fashion-serve: error: {e.name} is missing; install the serve extra: pip install 'fashion-softmax[serve]'",
              file=sys.stderr)
        return 2
    try:
        predictor = Predictor(args.model, device=args.device, threads=args.threads)
    except (InferenceError, ValueError, OSError) as e:
        print(f"fashion-serve: error: {e}", file=sys.stderr)
        return 2
    try:
        listener = bind(args.host, args.port)
    except (OSError, ValueError) as e:  # port in use, address not on this machine, unknown or overlong name
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        print(f"fashion-serve: error: cannot listen on {args.host}:{args.port}: {reason}; "
              "pick another --port, or a --host address of this machine", file=sys.stderr)
        return 2
    app = create_app(predictor, max_body_bytes=args.max_body_bytes, read_timeout=args.read_timeout)
    address = f"[{args.host}]" if ":" in args.host else args.host  # IPv6 literals are bracketed in URLs
    print(f"serving {predictor.describe()} on http://{address}:{args.port} (docs at /docs)", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level=args.log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[listener])
    return 0


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
