"""How deep a JSON text nests, measured before parsing it, so hostile nesting never reaches the parser.

json.loads recurses once per level: 100,000 levels of `[` are a RecursionError (a 500 in the
service, a crash at start in the labeler). The corrections import and the HTTP service both
refuse a text that nests deeper than their format needs, through this one measure.
"""

from __future__ import annotations

import re

import numpy as np

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: linear time


def json_depth(text: str) -> int:
    """Deepest nesting of [ and { outside strings; linear, so hostile nesting cannot hit the stack."""
    bare = _JSON_STRING.sub("", text).encode("utf-8")
    codes = np.frombuffer(bare, dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    return int(np.cumsum(opens.astype(np.int64) - closes).max(initial=0))
