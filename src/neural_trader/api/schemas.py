"""Request and response bodies. Requests forbid unknown fields, so a misspelt field is a 422
that names it instead of an option silently ignored; amounts are decimals (send them as
strings to keep them exact), never NaN or infinite."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

# A positive amount below 10^12 with at most 8 decimals, as the schema publishes it: a decimal
# string (exact) or a whole number. A JSON float is accepted too, when it has at most 8 decimals.
_FRACTIONS = "|".join(f"0{{{k}}}[1-9][0-9]{{0,{7 - k}}}" for k in range(8))  # 1-8 digits, not all 0
AMOUNT_PATTERN = rf"^(0*[1-9][0-9]{{0,11}}(\.[0-9]{{1,8}})?|0*\.({_FRACTIONS}))$"
Amount = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1e12"), allow_inf_nan=False, decimal_places=8),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN, "maxLength": 22},
                {"type": "integer", "minimum": 1, "maximum": 999_999_999_999},
            ]
        }
    ),
]
# 0 to 10,000 basis points, a decimal string or a JSON number.
BasisPoints = Annotated[
    Decimal,
    Field(ge=0, le=10_000, allow_inf_nan=False),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^(10000(\.0{1,8})?|[0-9]{1,4}(\.[0-9]{1,8})?)$"},
                {"type": "number", "minimum": 0, "maximum": 10_000},
            ]
        }
    ),
]
Symbol = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (extension members vary by type)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class OrderRequest(Strict):
    symbol: Symbol
    side: Literal["buy", "sell"]
    quantity: Amount
    type: Literal["market", "limit", "stop", "stop_limit"] = "market"
    limit_price: Amount | None = None
    stop_price: Amount | None = None
    time_in_force: Literal["gtc", "day", "ioc", "fok"] = "gtc"
    stop_loss: Amount | None = None
    client_order_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")] | None = (
        None
    )


class OrderOut(BaseModel):
    id: str
    account: str
    strategy: str
    symbol: str
    side: str
    type: str
    quantity: str
    limit_price: str | None
    stop_price: str | None
    stop_loss: str | None
    time_in_force: str
    status: str
    filled_quantity: str
    avg_price: str
    reason: str
    parent_id: str | None
    created_at: str | None
    updated_at: str | None


class OrderList(BaseModel):
    orders: list[OrderOut]
    next_cursor: int | None


class BacktestRequest(Strict):
    strategy: Annotated[str, Field(min_length=1, max_length=64)]
    symbols: Annotated[list[Symbol], Field(min_length=1, max_length=20)] = ["SPX"]
    start: date | None = None
    end: date | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    cash: Amount | None = None
    commission_bps: BasisPoints | None = None
    slippage_bps: BasisPoints | None = None


class JobOut(BaseModel):
    id: str
    kind: str
    status: str
    progress: float
    message: str
    params: dict[str, Any]
    error: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class AnalyzeRequest(Strict):
    symbols: Annotated[list[Symbol], Field(min_length=1, max_length=50)]
    weights: Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=1)]
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    horizon: Annotated[int, Field(ge=1, le=250)] = 1
    start: date | None = None
    end: date | None = None
    stress: bool = True


class TradingStateRequest(Strict):
    state: Literal["active", "reducing", "halted"]
    reason: Annotated[str, Field(max_length=500)] = ""


class KillSwitchRequest(Strict):
    engaged: bool
    reason: Annotated[str, Field(max_length=500)] = ""


class PredictRequest(Strict):
    symbol: Symbol | None = None
    as_of: date | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


class StrategyParamsRequest(Strict):
    """New values for some of a strategy's parameters; those not named keep theirs."""

    params: Annotated[dict[str, Any], Field(max_length=64)]


class ExecuteStrategyRequest(Strict):
    """One more strategy for the server's paper session."""

    # Its id in the session (default: the strategy's name).
    id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] = None
    params: Annotated[dict[str, Any], Field(max_length=64)] = {}
    # The symbols it trades (default: every symbol the session replays).
    symbols: Annotated[list[Symbol] | None, Field(min_length=1, max_length=50)] = None
    allocation: Annotated[float, Field(gt=0, le=1)]  # its share of the account


class StopStrategyRequest(Strict):
    flatten: bool = False  # also close the positions in the strategy's symbols


MAX_EPOCHS = 200


class TrainRequest(Strict):
    architecture: Literal["lstm", "transformer", "gan"]
    symbol: Symbol = "SPX"
    epochs: Annotated[int, Field(ge=1, le=MAX_EPOCHS)] = 20
    window: Annotated[int, Field(ge=2, le=250)] = 30
    horizons: Annotated[
        list[Annotated[int, Field(ge=1, le=60)]],
        Field(min_length=1, max_length=5, json_schema_extra={"uniqueItems": True}),
    ] = [1, 5]
    start: date | None = None
    end: date | None = None
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.1
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 64
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 1e-3
    patience: Annotated[int, Field(ge=1, le=MAX_EPOCHS)] = 5

    @field_validator("horizons")
    @classmethod
    def _distinct(cls, horizons: list[int]) -> list[int]:
        if len(set(horizons)) != len(horizons):
            raise ValueError(f"horizons must be distinct, got {horizons}")
        return horizons


class PromoteRequest(Strict):
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]
