"""The framework's floor, measured in the same run as the real server: a bare FastAPI app
under one uvicorn worker (same settings as ``neural-trader serve``: no access log, no server
header) whose ``POST /api/v1/orders`` only parses and validates the same ``OrderRequest``
body and answers it back, and whose ``GET /api/v1/portfolio`` answers a small document.
No auth, no risk gate, no venue, no storage, no logging.

The machine this runs on changes speed by a third or more within half an hour, so the
API figures are also given as a ratio to this floor: what share of the bare framework's
throughput the whole order path keeps. Run as ``python reference_app.py PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from neural_trader.api.schemas import OrderRequest

# FastAPI's own telemetry is off here as in the real app (it costs every request a lookup).
app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})


@app.post("/api/v1/orders", status_code=201)
async def submit(body: OrderRequest) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=201)


@app.get("/api/v1/portfolio")
async def portfolio() -> dict[str, object]:
    return {"account": "reference", "cash": "100000", "positions": [], "open_orders": []}


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False,
        log_level="warning", server_header=False,
    )  # fmt: skip
