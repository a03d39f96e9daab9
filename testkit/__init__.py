"""Helpers the tests and the benchmarks share: tiny ONNX models, hostile files, a local Ray cluster,
a served fashion-serve process, in-process command runs. Not part of the installed package."""
