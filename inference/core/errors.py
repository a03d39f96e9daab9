"""What a user of the torch-free layer can get wrong, as exceptions with messages that say how to fix it.

Every error `inference/` raises about the caller's input, files or model is one of these, so a
command line catches `InferenceError` alone and prints one line.
"""


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


class ArgumentError(InferenceError, ValueError):
    """A bad argument to the API or a bad flag value (threads, chunk, device, port, ...)."""


class CorrectionsError(InferenceError):
    """The corrections store refused a value, a file or a change: nothing was written."""
