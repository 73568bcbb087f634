"""``neural-trader users create|list|disable`` and ``neural-trader keys create|list|revoke``:
who may use the API. There is no default user or password: the first admin is made here
(``neural-trader users create alice --role admin``). Every change is an audit entry."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from neural_trader.cli.common import ConfigOpt, JsonOpt, SetOpt, console, print_json, settings_from
from neural_trader.errors import AuthError
from neural_trader.security import Accounts
from neural_trader.storage import AuditEntry, AuditLog, Store

users_app = typer.Typer(help="API users and their roles.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (shown once, stored hashed).", no_args_is_help=True)


def _open(config: Path | None, set_: list[str] | None) -> Store:
    settings = settings_from(config, set_)
    return Store(settings.database.url, echo=settings.database.echo)


def _audit(store: Store, action: str, target: str, detail: dict[str, object]) -> None:
    AuditLog(store).append(
        AuditEntry(f"cli:{getpass.getuser()}", "cli", action, target, "cli", "ok", detail)
    )


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise AuthError("--password-stdin given but standard input is empty")
        return line.rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="viewer, trader or admin.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Create a user (asks for the password twice unless --password-stdin)."""
    store = _open(config, set_)
    try:
        user = Accounts(store).create_user(username, _password(password_stdin), role)
        _audit(store, "users.create", user.username, {"role": user.role})
    finally:
        store.close()
    if json_out:
        print_json(user.public())
    else:
        console.print(f"created {user.role} [bold]{user.username}[/bold] (id {user.id})")


@users_app.command("list")
def list_users(json_out: JsonOpt = False, config: ConfigOpt = None, set_: SetOpt = None) -> None:
    store = _open(config, set_)
    try:
        users = Accounts(store).list_users()
    finally:
        store.close()
    if json_out:
        print_json({"users": [u.public() for u in users]})
        return
    table = Table(title="users")
    for col in ("id", "user", "role", "disabled"):
        table.add_column(col)
    for u in users:
        table.add_row(str(u.id), u.username, u.role, "yes" if u.disabled else "")
    console.print(table)


@users_app.command("disable")
def disable_user(
    username: str, json_out: JsonOpt = False, config: ConfigOpt = None, set_: SetOpt = None
) -> None:
    """Disable a user: its logins, tokens and keys stop working (within a second)."""
    store = _open(config, set_)
    try:
        user = Accounts(store).disable_user(username)
        _audit(store, "users.disable", username, {})
    finally:
        store.close()
    if json_out:
        print_json(user.public())
    else:
        console.print(f"disabled {username}; its API keys and refresh tokens are revoked")


@keys_app.command("create")
def create_key(
    user: Annotated[str, typer.Option(help="Owner of the key.")],
    name: Annotated[str, typer.Option(help="What the key is for.")],
    scope: Annotated[
        list[str] | None, typer.Option(help="Permission to grant; repeat (default: the role's).")
    ] = None,
    expires_days: Annotated[float, typer.Option(help="Lifetime in days.")] = 90.0,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="Never expires.")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Create an API key; the key is printed this once and cannot be shown again."""
    store = _open(config, set_)
    try:
        made = Accounts(store).create_key(user, name, scope, None if no_expiry else expires_days)
        _audit(
            store,
            "keys.create",
            made.record.id,
            {"user": user, "scopes": sorted(made.record.scopes)},
        )
    finally:
        store.close()
    if json_out:
        print_json({**made.record.public(), "key": made.token})
        return
    console.print(
        f"key [bold]{made.record.id}[/bold] for {user}: {' '.join(sorted(made.record.scopes))}"
    )
    console.print("store it now, it is not shown again:")
    sys.stdout.write(made.token + "\n")


@keys_app.command("list")
def list_keys(
    user: Annotated[str | None, typer.Option(help="Only this user's keys.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    store = _open(config, set_)
    try:
        keys = Accounts(store).list_keys(user)
    finally:
        store.close()
    if json_out:
        print_json({"keys": [k.public() for k in keys]})
        return
    table = Table(title="API keys")
    for col in ("id", "user", "name", "scopes", "expires", "revoked"):
        table.add_column(col)
    for k in keys:
        table.add_row(
            k.id, k.username, k.name, " ".join(sorted(k.scopes)),
            "never" if k.expires_at is None else _day(k.expires_at),
            "" if k.revoked_at is None else _day(k.revoked_at),
        )  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def revoke_key(
    key_id: str, json_out: JsonOpt = False, config: ConfigOpt = None, set_: SetOpt = None
) -> None:
    """Revoke a key at once (and the access tokens it was exchanged for)."""
    store = _open(config, set_)
    try:
        key = Accounts(store).revoke_key(key_id)
        _audit(store, "keys.revoke", key_id, {"user": key.username})
    finally:
        store.close()
    if json_out:
        print_json(key.public())
    else:
        console.print(f"revoked {key_id}")


def _day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M")
