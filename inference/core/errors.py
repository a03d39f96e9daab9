"""Every exception `inference/` raises, in one place: what a caller can get wrong, with messages
that say how to fix it, and the answers the HTTP service gives to requests it cannot serve.

Every error `inference/` raises about the caller's input, files or model is an `InferenceError`,
so a command line catches it alone and prints one line. No imports beyond the standard library
(numpy only for annotations), so that importing this module costs nothing: the command line and
the service import it before they know which extras are installed.
"""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing, which took 8 of the 13 ms `import inference.core.errors`
# cost under -X importtime; mypy takes any name TYPE_CHECKING as that flag.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np


class InferenceError(Exception):
    """Base class for every error `inference/` raises about the caller's input or files."""


class DatasetError(InferenceError):
    """The Fashion-MNIST files are missing, truncated, corrupt, or not Fashion-MNIST."""


class InputError(InferenceError, ValueError):
    """Images the model cannot score: wrong shape, dtype or values, or an unreadable file.

    A ValueError too, so callers that only know the standard library's types still catch it.
    """


class InputTypeError(InputError, TypeError):
    """Something that is not an array (a list, a tensor, a string) was passed as images."""


class ModelError(InferenceError):
    """The model file is missing, unreadable, not ONNX, or not a Fashion-MNIST classifier."""


class NonFiniteScores(ModelError):
    """The model gave NaN or infinity for some images: `rows` are their positions in the batch."""

    def __init__(self, path: Path, output: str, rows: np.ndarray, total: int, names: list[str] | None = None):
        self.path, self.output, self.rows, self.total = path, output, rows, total
        shown = [str(r) for r in rows[:5]] if names is None else [repr(names[r]) for r in rows[:5]]
        which = ("image" if names is not None else "row") + ("s " if len(rows) > 1 else " ") + ", ".join(shown)
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        super().__init__(
            f"{path} gives NaN or infinite {output} for {len(rows)} of {total} image(s) ({which}{more}): "
            "the model is broken for these inputs, so no scores were returned; export it again with train-and-export"
        )

    def naming(self, names: list[str]) -> NonFiniteScores:
        """The same error, naming the images (file names, row numbers of a file) instead of rows."""
        return NonFiniteScores(self.path, self.output, self.rows, self.total, names)


class ArgumentError(InferenceError, ValueError):
    """A bad argument to the API or a bad flag value (threads, chunk, device, port, ...)."""


class CorrectionsError(InferenceError):
    """The corrections store refused a value, a file or a change: nothing was written."""


class ReportError(InferenceError):
    """There is no usable label-issue report: missing, damaged, or made from other data or another model."""


class RayEngineError(InferenceError):
    """Ray is missing, cannot start or reach its cluster, or the inputs cannot be listed."""


# --- the HTTP service's answers (fashion-serve) -------------------------------------------------
# Not InferenceErrors: they are answers to a request, raised and caught inside the service.


class ServiceError(Exception):
    """A request the service answers with `status` and a one-line `message` (never a traceback).

    `reason` is the failure reason the metrics count it under (Triton's: REJECTED for load
    shedding, BACKEND for the model, OTHER for the request itself)."""

    def __init__(self, status: int, message: str, reason: str = "OTHER"):
        super().__init__(status, message, reason)  # picklable: it may come back from a JSON worker process
        self.status, self.message, self.reason = status, message, reason

    def __str__(self) -> str:
        return self.message


class Overloaded(ServiceError):
    """503: the service has no room for this request now (load shedding); the client may retry."""

    def __init__(self, message: str):
        super().__init__(503, message, "REJECTED")

    def __reduce__(self) -> tuple[type[Overloaded], tuple[str]]:
        return (Overloaded, (self.message,))


class ClientLeft(Exception):
    """The client disconnected before its body was complete: there is no one to answer."""
