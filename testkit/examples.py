"""How many examples a property test draws: its full count in `make test`, a fifth in `make test-fast`.

`make test-fast` sets HYPOTHESIS_PROFILE=quick, and tests/conftest.py loads that profile (20
examples where a test names no count, a fifth of hypothesis' 100). A test that names its own count
asks `examples(n)`, since a count written in `@settings` wins over any profile.
"""

from __future__ import annotations

import os

QUICK = os.environ.get("HYPOTHESIS_PROFILE") == "quick"


def examples(full: int) -> int:
    return max(3, full // 5) if QUICK else full
