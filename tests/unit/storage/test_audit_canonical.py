"""The audit log's canonical text and hashes are the standard library's: the fast encoder is
used only where it writes the same bytes, checked on random values against ``json.dumps``
(so chains written before verify as they did)."""

from __future__ import annotations

import hashlib
import json
import random
from decimal import Decimal
from typing import Any

from neural_trader.storage.audit import _Values, canonical_detail, entry_hash

# Every escaping case JSON has: quotes, backslashes, control characters, DEL, non-ASCII up
# to the astral planes, U+2028/2029 (JSON leaves them, JavaScript would not).
CHARS = [chr(c) for c in range(0x80)] + [chr(c) for c in (0xA0, 0xE9, 0x2028, 0x2029, 0xFEFF,
         0x4E2D, 0xD7FF, 0xE000, 0xFFFF, 0x1F600, 0x10FFFF)]  # fmt: skip


def reference(detail: Any) -> str:
    return json.dumps(
        detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 7 if depth < 3 else 4)
    if kind == 0:
        return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, 10)))
    if kind == 1:
        return rng.randint(-(2**63), 2**64 - 1)
    if kind == 2:
        return rng.choice([True, False, None, 0, -1])
    if kind == 3:
        return rng.choice([0.1, 1e16, 1e-7, 2.5, -0.0, 123456789.125, 2**70])  # standard path
    if kind == 4:
        return rng.choice([Decimal("1.50"), ("a", 1), "x" * 200])
    if kind == 5:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["".join(rng.choice(CHARS) for _ in range(rng.randint(0, 6))) for _ in range(4)]
    return {k: random_value(rng, depth + 1) for k in keys}


def test_canonical_detail_is_the_standard_librarys_text() -> None:
    rng = random.Random(11)
    for _ in range(20_000):
        detail = {f"k{i}": random_value(rng) for i in range(rng.randint(0, 6))}
        assert canonical_detail(detail) == reference(detail)
    assert canonical_detail({"x": 1e16, "n": 2**70}) == '{"n":1180591620717411303424,"x":1e+16}'


def test_entry_hash_is_sha256_of_the_standard_librarys_text() -> None:
    rng = random.Random(5)
    for _ in range(5_000):
        text = ["".join(rng.choice(CHARS) for _ in range(rng.randint(0, 12))) for _ in range(7)]
        row = _Values(rng.randint(1, 2**40), rng.randint(0, 2**62), *text, "0" * 64)
        fields = [row.seq, row.ts, row.actor, row.actor_kind, row.action, row.target,
                  row.source, row.result, row.detail]  # fmt: skip
        content = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
        expected = hashlib.sha256(f"{'f' * 64}\n{content}".encode()).hexdigest()
        assert entry_hash("f" * 64, row) == expected
