"""What every router shares: the problem responses documented on each route."""

from __future__ import annotations

from typing import Any

from neural_trader.api.problems import MEDIA_TYPE
from neural_trader.api.schemas import ProblemDetails

API_PREFIX = "/api/v1"
# Sequence numbers are 64-bit signed integers in both databases.
MAX_SEQ = 2**63 - 1


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": ProblemDetails, "content": {MEDIA_TYPE: {}}}


PROTECTED: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed request body"),
    401: _problem("Missing, expired or invalid credential"),
    403: _problem("The credential lacks the permission"),
    413: _problem("Request body too large"),
    422: _problem("Invalid request"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _problem("No such resource")}
CONFLICT: dict[int | str, dict[str, Any]] = {409: _problem("Not possible in the current state")}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: _problem("A component is not running")}
