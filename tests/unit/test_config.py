"""Settings: precedence, error messages that name key + source + what is allowed, secrets."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from neural_trader.config import BrokerSettings, Settings, load_settings
from neural_trader.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.toml"


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray ./config.toml from the developer's checkout can leak into a test."""
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def config_error(**kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**kwargs)
    assert info.value.exit_code == 3
    return str(info.value)


# -- defaults and precedence ----------------------------------------------------------------------
def test_defaults() -> None:
    s = load_settings(env={})
    assert s.brokers.enabled == [] and s.brokers.venues == {}
    assert s.strategies.enabled == ["sma_cross"] and s.strategies.params == {}
    assert s.risk.max_position_size == Decimal(1_000_000)
    assert s.risk.max_order_notional == Decimal(1_000_000)
    assert s.risk.max_portfolio_heat is None  # off until asked for: it needs stops to mean much
    assert (s.risk.kill_switch, s.risk.enable_gpu) == (False, False)
    assert s.neural.models == ["lstm", "transformer"] and s.neural.device == "auto"
    assert s.memory.agentdb_path == Path("./data/agentdb") and s.memory.cache_size == 10_000
    assert s.database.url == "sqlite:///./data/neural_trader.db" and s.database.echo is False
    assert (s.data.dir, s.data.results_dir) == (Path("./data"), Path("./results"))
    assert s.paper.starting_cash == Decimal(100_000) and s.paper.currency == "USD"
    assert s.paper.commission_bps == 0 and s.paper.max_volume_participation is None
    assert s.run.symbols == ["SPX"] and s.run.start is None and s.run.until_end is False
    assert s.run.speed == 20.0
    assert (s.api.rest.host, s.api.rest.port) == ("127.0.0.1", 8080)
    assert s.redis.url is None
    assert (s.log.level, s.log.json_) == ("INFO", None)  # None: JSON unless a terminal


def test_toml_overrides_defaults(tmp_path: Path) -> None:
    f = write(
        tmp_path / "c.toml",
        """
        [risk]
        max_position_size = 250000.50
        kill_switch = true
        [run]
        symbols = ["SPX", "NDX"]
        start = 2005-01-03
        [api.rest]
        port = 9000
        [log]
        json = true
        level = "debug"
        """,
    )
    s = load_settings(f, env={})
    assert s.risk.max_position_size == Decimal("250000.5")
    assert s.risk.kill_switch is True
    assert s.risk.max_order_notional == Decimal(1_000_000)  # untouched keys keep defaults
    assert s.run.symbols == ["SPX", "NDX"] and s.run.start == date(2005, 1, 3)
    assert s.api.rest.port == 9000 and s.api.rest.host == "127.0.0.1"
    assert s.log.json_ is True and s.log.level == "DEBUG"


def test_env_overrides_toml_nested(tmp_path: Path) -> None:
    f = write(tmp_path / "c.toml", "[risk]\nmax_position_size = 100\nmax_order_notional = 50\n")
    env = {
        "NT_RISK__MAX_POSITION_SIZE": "5000.10",
        "NT_DATABASE__URL": "postgresql+psycopg://nt@localhost/nt",
        "NT_API__REST__PORT": "8181",
        "NT_RUN__SYMBOLS": "SPX, NDX",
        "NT_NEURAL__MODELS": '["lstm"]',
    }
    s = load_settings(f, env=env)
    assert s.risk.max_position_size == Decimal("5000.10")  # exact, from the env text
    assert s.risk.max_order_notional == Decimal(50)  # the file still supplies the rest
    assert s.database.url == "postgresql+psycopg://nt@localhost/nt"
    assert s.api.rest.port == 8181
    assert s.run.symbols == ["SPX", "NDX"]
    assert s.neural.models == ["lstm"]


def test_cli_overrides_env(tmp_path: Path) -> None:
    f = write(tmp_path / "c.toml", "[paper]\nstarting_cash = 1000\n")
    env = {"NT_PAPER__STARTING_CASH": "2000", "NT_PAPER__CURRENCY": "EUR"}
    s = load_settings(f, {"paper": {"starting_cash": 3000}}, env=env)
    assert s.paper.starting_cash == Decimal(3000)
    assert s.paper.currency == "EUR"


def test_dotted_overrides_as_from_set_flags() -> None:
    s = load_settings(
        overrides={
            "risk.max_position_size": "5",
            "risk": {"kill_switch": True},
            "run.symbols": "SPX,NDX",
            "run.speed": "0",
            "paper.max_volume_participation": "0.25",
            "strategies.sma_cross.fast": "7",
        },
        env={"NT_RISK__MAX_POSITION_SIZE": "900"},
    )
    assert s.risk.max_position_size == Decimal(5)
    assert s.risk.kill_switch is True
    assert s.run.symbols == ["SPX", "NDX"] and s.run.speed == 0.0
    assert s.paper.max_volume_participation == 0.25
    assert s.strategies.params == {"sma_cross": {"fast": "7"}}


def test_none_words_clear_an_optional_value(tmp_path: Path) -> None:
    f = write(tmp_path / "c.toml", '[redis]\nurl = "redis://localhost:6379/0"\n')
    assert load_settings(f, env={}).redis.url == "redis://localhost:6379/0"
    assert load_settings(f, env={"NT_REDIS__URL": ""}).redis.url is None
    assert load_settings(f, {"redis.url": "none"}, env={}).redis.url is None


def test_nt_config_picks_the_file(tmp_path: Path) -> None:
    a = write(tmp_path / "a.toml", "[api.rest]\nport = 1111\n")
    b = write(tmp_path / "b.toml", "[api.rest]\nport = 2222\n")
    assert load_settings(env={"NT_CONFIG": str(a)}).api.rest.port == 1111
    assert load_settings(b, env={"NT_CONFIG": str(a)}).api.rest.port == 2222  # argument wins


def test_config_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    assert load_settings(env={}).api.rest.port == 8080
    write(tmp_path / "config.toml", "[api.rest]\nport = 3333\n")
    assert load_settings(env={}).api.rest.port == 3333


def test_settings_class_reads_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_RISK__KILL_SWITCH", "true")
    assert Settings().risk.kill_switch is True
    assert load_settings().risk.kill_switch is True  # env defaults to os.environ


# -- errors: key, source and what is allowed -------------------------------------------------------
def test_bad_value_from_env_names_key_source_and_rule(tmp_path: Path) -> None:
    msg = config_error(env={"NT_RISK__MAX_PORTFOLIO_HEAT": "5"})
    assert msg == (
        "risk.max_portfolio_heat = 5 (from env NT_RISK__MAX_PORTFOLIO_HEAT): "
        "Input should be less than or equal to 1"
    )


def test_bad_value_from_file_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "[memory]\ncache_size = 0\n")
    msg = config_error(env={})
    assert "memory.cache_size = 0 (from file config.toml)" in msg
    assert "greater than 0" in msg


def test_bad_value_from_cli(tmp_path: Path) -> None:
    msg = config_error(overrides={"api.rest.port": 70000}, env={})
    assert msg.startswith("api.rest.port = 70000 (from cli): ")
    assert "less than or equal to 65535" in msg


def test_bad_value_source_follows_precedence(tmp_path: Path) -> None:
    f = write(tmp_path / "c.toml", "[risk]\nmax_portfolio_heat = 9\n")
    # The file's bad value is hidden by a good one from the environment ...
    good = load_settings(f, env={"NT_RISK__MAX_PORTFOLIO_HEAT": "0.1"})
    assert good.risk.max_portfolio_heat == 0.1
    # ... and when both are bad the one that won (the environment) is blamed.
    msg = config_error(config_file=f, env={"NT_RISK__MAX_PORTFOLIO_HEAT": "-1"})
    assert "(from env NT_RISK__MAX_PORTFOLIO_HEAT)" in msg and "file" not in msg
    msg = config_error(config_file=f, overrides={"risk.max_portfolio_heat": 2}, env={})
    assert "risk.max_portfolio_heat = 2 (from cli)" in msg


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"neural.device": "tpu"}, "neural.device = tpu (from cli): Input should be 'auto', 'cpu'"),
        ({"log.level": "LOUD"}, "log.level = LOUD (from cli): Input should be 'DEBUG'"),
        ({"run.speed": -1}, "run.speed = -1 (from cli): Input should be greater than or equal"),
        ({"run.symbols": []}, "run.symbols = [] (from cli): List should have at least 1 item"),
        ({"paper.currency": "us dollars"}, "paper.currency = 'US DOLLARS' (from cli)"),
        ({"paper.commission_bps": "-0.5"}, "paper.commission_bps = -0.5 (from cli)"),
        ({"paper.max_volume_participation": 1.5}, "paper.max_volume_participation = 1.5"),
        ({"brokers.enabled": "alpaca,alpaca"}, "(from cli): lists alpaca more than once"),
        ({"database.url": "mysql://root@db/x"}, "sqlite or postgresql scheme"),
        ({"redis.url": "http://cache"}, "redis.url = http://cache (from cli): must start with"),
        ({"run.start": "yesterday"}, "run.start = yesterday (from cli): Input should be a valid"),
    ],
)
def test_each_rule_is_enforced(overrides: dict[str, Any], expected: str) -> None:
    assert expected in config_error(overrides=overrides, env={})


def test_several_problems_are_reported_together() -> None:
    msg = config_error(overrides={"memory.cache_size": -1, "api.rest.port": 0}, env={})
    assert "memory.cache_size = -1 (from cli)" in msg and "api.rest.port = 0 (from cli)" in msg


def test_bad_database_url_does_not_echo_its_password() -> None:
    msg = config_error(env={"NT_DATABASE__URL": "mysql://admin:hunter2@db/x"})
    assert "hunter2" not in msg
    assert "database.url = mysql://admin:***@db/x (from env NT_DATABASE__URL)" in msg


# -- unknown keys, files ------------------------------------------------------------------------
def test_unknown_key_in_file_lists_the_allowed_ones(tmp_path: Path) -> None:
    f = write(tmp_path / "c.toml", "[risk]\nmax_postion_size = 5\n")
    msg = config_error(config_file=f, env={})
    assert msg.startswith(f"risk.max_postion_size (from file {f}): unknown key; allowed: ")
    assert "max_position_size" in msg


def test_unknown_section_from_file_and_cli(tmp_path: Path) -> None:
    f = write(tmp_path / "c.toml", "[riks]\nkill_switch = true\n")
    msg = config_error(config_file=f, env={})
    assert msg.startswith(f"riks (from file {f}): unknown section; allowed: brokers, strategies")
    assert "run.bogus (from cli): unknown key" in config_error(overrides={"run.bogus": 1}, env={})


def test_unknown_key_from_env_names_the_variable() -> None:
    msg = config_error(env={"NT_RISK__MAX_POSTION_SIZE": "5"})
    assert msg.startswith("risk.max_postion_size (from env NT_RISK__MAX_POSTION_SIZE): unknown key")


def test_unrelated_nt_variables_are_ignored() -> None:
    s = load_settings(env={"NT_SOMETHING_ELSE": "x", "NT_RISKY": "1", "PATH": "/bin"})
    assert s.risk.kill_switch is False


def test_unknown_key_in_a_broker_table(tmp_path: Path) -> None:
    f = write(tmp_path / "c.toml", '[brokers.alpaca]\napi_kee = "x"\n')
    msg = config_error(config_file=f, env={})
    assert msg.startswith(f"brokers.alpaca.api_kee (from file {f}): unknown key; allowed: api_key")


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert config_error(config_file=missing, env={}) == f"config file {missing} not found"
    msg = config_error(env={"NT_CONFIG": str(missing)})
    assert msg == f"config file {missing} (from env NT_CONFIG) not found"
    assert config_error(config_file=tmp_path, env={}) == f"config file {tmp_path} is not a file"


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    f = write(tmp_path / "c.toml", "[risk]\nkill_switch = true\nmax_position_size = \n")
    msg = config_error(config_file=f, env={})
    assert msg.startswith(f"config file {f} is not valid TOML: ")
    assert "line 3" in msg


def test_env_json_that_does_not_parse_names_the_variable() -> None:
    msg = config_error(env={"NT_RISK": "{not json"})
    assert msg.startswith("NT_RISK: not valid JSON for [risk]")


def test_malformed_override_keys() -> None:
    assert "is not a dotted key" in config_error(overrides={"risk..kill_switch": True}, env={})
    msg = config_error(overrides={"risk": 5, "risk.kill_switch": True}, env={})
    assert msg == "override risk.kill_switch (from cli) conflicts with the value of risk"
    assert "unknown section" in config_error(overrides={"_env_file": "x"}, env={})


# -- secrets ---------------------------------------------------------------------------------------
SECRET_KEY = "AKIA-very-secret-key"
SECRET_SECRET = "s3cr3t-shh"


def test_secrets_never_shown(tmp_path: Path) -> None:
    f = write(tmp_path / "c.toml", f'[brokers.alpaca]\napi_key = "{SECRET_KEY}"\n')
    s = load_settings(
        f,
        {"database.url": "postgresql://nt:dbpass@localhost/nt"},
        env={"NT_BROKERS__ALPACA__API_SECRET": SECRET_SECRET},
    )
    alpaca = s.brokers.venues["alpaca"]
    assert isinstance(alpaca.api_key, SecretStr) and isinstance(alpaca.api_secret, SecretStr)
    assert alpaca.api_key.get_secret_value() == SECRET_KEY
    assert alpaca.api_secret.get_secret_value() == SECRET_SECRET
    redacted = s.redacted()
    shown = [repr(s), str(s), s.model_dump_json(), json.dumps(redacted)]
    for text in shown:
        assert SECRET_KEY not in text and SECRET_SECRET not in text
    assert redacted["brokers"]["venues"]["alpaca"]["api_key"] == "**********"
    assert redacted["brokers"]["venues"]["alpaca"]["api_secret"] == "**********"
    assert redacted["database"]["url"] == "postgresql://nt:***@localhost/nt"
    assert redacted["risk"]["max_position_size"] == "1000000"  # JSON-able: Decimal as text
    assert redacted["log"]["json"] is None


def test_bad_secret_value_is_not_echoed() -> None:
    msg = config_error(overrides={"brokers.alpaca.api_key": 123456789}, env={})
    assert "123456789" not in msg
    assert msg.startswith("brokers.alpaca.api_key = ********** (from cli): ")


# -- per-broker and per-strategy tables ----------------------------------------------------------
def test_broker_and_strategy_tables(tmp_path: Path) -> None:
    f = write(
        tmp_path / "c.toml",
        """
        [brokers]
        enabled = ["alpaca", "binance"]
        [brokers.alpaca]
        paper_trading = false
        base_url = "https://paper-api.alpaca.markets"
        [brokers.binance]
        extra = { region = "us" }
        [strategies]
        enabled = ["sma_cross", "momentum"]
        [strategies.sma_cross]
        fast = 5
        slow = 20
        [strategies.momentum]
        lookback = 60
        """,
    )
    env = {"NT_BROKERS__BINANCE__API_KEY": "k", "NT_STRATEGIES__SMA_CROSS__SLOW": "25"}
    s = load_settings(f, env=env)
    assert s.brokers.enabled == ["alpaca", "binance"]
    assert set(s.brokers.venues) == {"alpaca", "binance"}
    alpaca, binance = s.brokers.venues["alpaca"], s.brokers.venues["binance"]
    assert alpaca.paper_trading is False and alpaca.api_key is None
    assert alpaca.base_url == "https://paper-api.alpaca.markets"
    assert binance.paper_trading is True and binance.extra == {"region": "us"}
    assert binance.api_key is not None and binance.api_key.get_secret_value() == "k"
    assert s.strategies.enabled == ["sma_cross", "momentum"]
    assert s.strategies.params == {
        "sma_cross": {"fast": 5, "slow": "25"},  # the strategy's own model coerces env text
        "momentum": {"lookback": 60},
    }


def test_a_dumped_settings_fed_back_as_overrides_is_the_same(tmp_path: Path) -> None:
    f = write(
        tmp_path / "c.toml",
        '[brokers.alpaca]\napi_key = "k"\n[strategies.sma_cross]\nfast = 5\n[log]\njson = true\n',
    )
    s = load_settings(f, env={})
    again = load_settings(None, s.model_dump(), env={})
    assert again == s
    # a table override on top of a dump changes just that strategy's parameters
    tweaked = load_settings(f, {**s.model_dump(), "strategies.sma_cross": {"slow": 40}}, env={})
    assert tweaked.strategies.params["sma_cross"] == {"fast": 5, "slow": 40}


def test_scalar_where_a_table_belongs_is_an_unknown_key() -> None:
    msg = config_error(overrides={"strategies.sma_cross": 5}, env={})
    assert msg.startswith("strategies.sma_cross (from cli): unknown key; allowed: enabled")


# -- the example file -----------------------------------------------------------------------------
def _fields(model: type[BaseModel], prefix: str) -> list[tuple[str, str]]:
    """(section, key) for every leaf setting."""
    out: list[tuple[str, str]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _fields(ann, f"{prefix}.{key}" if prefix else key)
        elif name not in ("venues", "params"):
            out.append((prefix, key))
    return out


def test_example_config_validates_and_holds_the_defaults() -> None:
    example = load_settings(EXAMPLE, env={})
    defaults = load_settings(env={})
    assert example.brokers.venues["alpaca"].paper_trading is True
    assert example.strategies.params == {"sma_cross": {"fast": 10, "slow": 30}}
    same = example.model_copy(
        update={
            "brokers": defaults.brokers,
            "strategies": example.strategies.model_copy(update={"params": {}}),
        }
    )
    assert same == defaults


def test_example_config_lists_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    tomllib.loads(text)
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped.strip("[]")
        elif "=" in stripped:
            sections.setdefault(current, []).append(stripped.lstrip("# ").split("=")[0].strip())
    expected = _fields(Settings, "") + [("brokers.alpaca", k) for k in BrokerSettings.model_fields]
    for section, key in expected:
        assert key in sections.get(section, []), f"{section}.{key} missing from the example"
