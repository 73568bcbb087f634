"""``neural-trader users|keys|audit`` driven through Typer's runner on a real SQLite file,
registered exactly as ``neural_trader.cli`` registers them: the first admin comes from the
CLI with a password from stdin, keys are printed once and stored hashed, ``audit verify``
passes on an intact log and fails (exit 1) once a row is edited with raw SQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from neural_trader.cli.audit import audit_app
from neural_trader.cli.users import keys_app, users_app
from neural_trader.errors import AuthError

cli = typer.Typer()
cli.add_typer(users_app, name="users")
cli.add_typer(keys_app, name="keys")
cli.add_typer(audit_app, name="audit")
PASSWORD = "first admin password"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "nt.db"
    monkeypatch.setenv("NT_DATABASE__URL", f"sqlite:///{path}")
    monkeypatch.delenv("NT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return path


def run(*args: str, stdin: str | None = None) -> typer.testing.Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def test_first_admin_then_users_listed_and_disabled(db: Path) -> None:
    made = run("users", "create", "root-admin", "--role", "admin", "--password-stdin", "--json",
               stdin=PASSWORD + "\n")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout) | {"created_at": 0} == {
        "id": 1, "username": "root-admin", "role": "admin", "disabled": False, "created_at": 0,
    }  # fmt: skip
    with sqlite3.connect(db) as con:
        (stored,) = con.execute("select password_hash from users").fetchone()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    weak = run("users", "create", "bob", "--password-stdin", stdin="short\n")
    assert isinstance(weak.exception, AuthError) and "at least 12" in str(weak.exception)
    prompted = run("users", "create", "carol", "--role", "trader",
                   stdin="a long and secret phrase\na long and secret phrase\n")  # fmt: skip
    assert prompted.exit_code == 0 and "created trader carol" in prompted.stdout
    listed = json.loads(run("users", "list", "--json").stdout)["users"]
    assert [(u["username"], u["role"]) for u in listed] == [("root-admin", "admin"),
                                                            ("carol", "trader")]  # fmt: skip
    assert all("password_hash" not in u for u in listed)
    assert run("users", "disable", "carol").exit_code == 0
    assert [u["disabled"] for u in json.loads(run("users", "list", "--json").stdout)["users"]] == [
        False, True,
    ]  # fmt: skip


def test_keys_are_shown_once_stored_hashed_and_revocable(db: Path) -> None:
    run("users", "create", "tess", "--role", "trader", "--password-stdin", stdin=PASSWORD + "\n")
    made = run("keys", "create", "--user", "tess", "--name", "bot", "--scope", "orders:read",
               "--scope", "orders:write", "--json")  # fmt: skip
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    assert key["key"].startswith("ntk_") and key["scopes"] == ["orders:read", "orders:write"]
    with sqlite3.connect(db) as con:
        row = con.execute("select * from api_keys").fetchone()
    assert key["key"] not in repr(row) and key["key"].split(".")[1] not in repr(row)
    listed = run("keys", "list", "--json").stdout
    assert key["id"] in listed and key["key"] not in listed
    too_much = run("keys", "create", "--user", "tess", "--name", "x", "--scope", "users:admin")
    assert isinstance(too_much.exception, AuthError)
    assert run("keys", "revoke", key["id"]).exit_code == 0
    assert json.loads(run("keys", "list", "--json").stdout)["keys"][0]["revoked_at"] is not None


def test_audit_verify_detects_an_edited_row(db: Path) -> None:
    run("users", "create", "tess", "--role", "trader", "--password-stdin", stdin=PASSWORD + "\n")
    run("keys", "create", "--user", "tess", "--name", "bot")
    ok = run("audit", "verify", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["entries"] == 2
    with sqlite3.connect(db) as con:
        actions = [a for (a,) in con.execute("select action from audit_log order by seq")]
        con.execute("drop trigger audit_log_no_update")
        con.execute("update audit_log set actor = 'someone-else' where seq = 1")
    assert actions == ["users.create", "keys.create"]
    broken = run("audit", "verify")
    assert broken.exit_code == 1
    assert "broken" in broken.stdout and "entry 1" in broken.stdout
