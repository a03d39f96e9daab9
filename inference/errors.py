"""What a user of the torch-free layer can get wrong, as exceptions with messages that say how to fix it."""


class InferenceError(Exception):
    """Base class for every error `inference/` raises about the caller's input or files."""


class DatasetError(InferenceError):
    """The Fashion-MNIST files are missing, truncated, corrupt, or not Fashion-MNIST."""
