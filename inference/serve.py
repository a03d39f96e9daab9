"""`fashion-serve`: the local HTTP service (FastAPI + uvicorn, the `serve` extra) on one Predictor.

Binds 127.0.0.1 unless told otherwise: the service has no authentication, so reaching it from
other machines must be a deliberate choice. For serving at scale use Triton with models/.
"""

from __future__ import annotations

import argparse
import socket
import sys

from inference.errors import InferenceError
from inference.predictor import DEVICES, Predictor

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from inference.service_app import DEFAULT_MAX_BODY

    parser = argparse.ArgumentParser(prog="fashion-serve", description="Serve Fashion-MNIST predictions over HTTP.")
    parser.add_argument("--model", default=None, help="model.onnx or a Triton repository (default: models/)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: usable cores)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY,
        help=f"larger requests get 413 (default {DEFAULT_MAX_BODY})",
    )
    parser.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        import uvicorn

        from inference.service_app import create_app
    except ImportError as e:
        print(f"fashion-serve: error: {e.name} is missing; install the serve extra: pip install 'fashion-softmax[serve]'",
              file=sys.stderr)
        return 2
    args = parse_args(argv)
    if args.max_body_bytes < 1:
        print("fashion-serve: error: --max-body-bytes must be >= 1", file=sys.stderr)
        return 2
    try:
        predictor = Predictor(args.model, device=args.device, threads=args.threads)
    except (InferenceError, ValueError) as e:
        print(f"fashion-serve: error: {e}", file=sys.stderr)
        return 2
    try:
        listener = bind(args.host, args.port)
    except OSError as e:  # port in use, address not on this machine, privileged port
        print(f"fashion-serve: error: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 2
    app = create_app(predictor, max_body_bytes=args.max_body_bytes)
    print(f"serving {predictor.describe()} on http://{args.host}:{args.port} (docs at /docs)", file=sys.stderr, flush=True)
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
    except OSError:
        listener.close()
        raise
    return listener

if __name__ == "__main__":
    sys.exit(main())
