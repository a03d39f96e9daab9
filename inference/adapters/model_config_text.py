"""Read a Triton `config.pbtxt` into the JSON shape Triton's `GET /v2/models/{name}/config` answers.

A small reader of protobuf's text format, not protobuf itself: the schema (`ModelConfig`) ships
only in tritonclient, and the service must not need tritonclient to run. It covers what text
format spells messages, lists, strings, numbers and enum names with, which is every config
`inference/core/model_repository.py` writes and the common hand edits of one; the test suite
checks its output against protobuf's own parser with Triton's schema.

Field names stay as written (Triton's JSON uses the proto names: `max_batch_size`,
`data_type`); 64-bit integers stay numbers, as Triton renders them, not the strings of
protobuf's JSON mapping.
"""

from __future__ import annotations

import re

from inference.core.errors import ModelError

# Fields ModelConfig declares `repeated`: a list even when written once without brackets.
REPEATED = frozenset(
    {
        "input",
        "output",
        "dims",
        "versions",
        "instance_group",
        "gpus",
        "preferred_batch_size",
        "batch_input",
        "batch_output",
        "model_warmup",
        "reshape",
        "optimization",
        "execution_accelerators",
    }
)
TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?[fF]?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<mark>[{}\[\]:,;<>])
    )""",
    re.VERBOSE,
)
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


def parse_config(text: str, where: str = "config.pbtxt") -> dict:
    """The model configuration as a dict; ModelError naming the place of a syntax it cannot read."""
    tokens = _tokens(text, where)
    return _Reader(tokens, where).message(end=None)


def _tokens(text: str, where: str) -> list[tuple[str, str, int]]:
    """(kind, text, line) for each token, comments dropped."""
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN.match(text, pos)
        if match is None:
            start = len(text) - len(text[pos:].lstrip())
            line = text.count("\n", 0, start) + 1
            raise ModelError(
                f"{where}, line {line}: cannot read {text[start : start + 20].strip()!r}; "
                "expected protobuf text format (name: value, name { ... }, name [ ... ])"
            )
        kind = match.lastgroup
        assert kind is not None  # every alternative of TOKEN is a named group
        if kind != "comment":
            out.append((kind, match.group(kind), text.count("\n", 0, match.start(kind)) + 1))
        pos = match.end()
    return out


class _Reader:
    def __init__(self, tokens: list[tuple[str, str, int]], where: str):
        self.tokens, self.where, self.at = tokens, where, 0

    def fail(self, expected: str) -> ModelError:
        if self.at < len(self.tokens):
            _, text, line = self.tokens[self.at]
            got = f"line {line}: {text!r}"
        else:
            got = "the end of the file"
        return ModelError(f"{self.where}: expected {expected}, got {got}; fix or re-export the config")

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        if self.at >= len(self.tokens):
            raise self.fail("more")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def message(self, end: str | None) -> dict:
        fields: dict = {}
        while self.peek() != end:
            if self.peek() is None:
                raise self.fail(f"'{end}'")
            kind, name, _ = self.take()
            if kind != "word":
                raise self.fail("a field name")
            colon = self.peek() == ":"
            if colon:
                self.take()
            for value in self.values(colon):
                if name in fields and not isinstance(fields[name], list):
                    fields[name] = [fields[name]]
                if isinstance(fields.get(name), list):
                    fields[name].append(value)
                else:
                    fields[name] = [value] if name in REPEATED else value
            if self.peek() in (",", ";"):
                self.take()
        if end is not None:
            self.take()
        return fields

    def values(self, colon: bool) -> list:
        """One value, or each value of a [ ... ] list."""
        if self.peek() == "[":
            self.take()
            items = []
            while self.peek() != "]":
                items.append(self.value(colon=True))
                if self.peek() == ",":
                    self.take()
                elif self.peek() != "]":
                    raise self.fail("',' or ']'")
            self.take()
            return items
        return [self.value(colon)]

    def value(self, colon: bool) -> object:
        opener = self.peek()
        if opener in ("{", "<"):
            self.take()
            return self.message(end="}" if opener == "{" else ">")
        if not colon:
            raise self.fail("':' or '{'")
        kind, text, _ = self.take()
        if kind == "string":
            return _unquote(text)
        if kind == "number":
            text = text.rstrip("fF")
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "word":
            return {"true": True, "false": False}.get(text, text)  # enum names stay strings
        self.at -= 1
        raise self.fail("a value")


def _unquote(text: str) -> str:
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)
