"""Webull OpenAPI request signing (HMAC-SHA1, signature version 1.0).

Every HTTP call to Webull carries ``x-app-key``, ``x-timestamp``, ``x-signature-algorithm``,
``x-signature-version``, ``x-signature-nonce`` and ``x-signature``. The signature, as
Webull's "Signature" page (developer.webull.com/apis/docs/authentication/signature) lays it
out, and as its official SDK computes it:

1. the query parameters (raw, not URL-encoded) and the signing headers above plus ``host``
   (names lower-cased) are merged and sorted by name, then joined ``k1=v1&k2=v2`` (``str1``);
2. a JSON body, if any, is hashed: upper-case hex MD5 of the exact bytes sent (``str2``);
3. ``path & str1 [& str2]`` is percent-encoded with nothing kept safe (``/`` becomes ``%2F``);
4. that string is signed with HMAC-SHA1 under ``app_secret + "&"`` and base64-encoded.

The app secret only ever enters step 4; it is never sent, logged or shown in ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

from pydantic import SecretStr

ALGORITHM = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"


def timestamp(epoch_s: float) -> str:
    """The ``x-timestamp`` form Webull accepts: UTC, whole seconds, ``Z`` suffix."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def body_digest(body: str) -> str:
    """``str2``: the upper-case hex MD5 of the body exactly as it goes on the wire."""
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def string_to_sign(path: str, params: Mapping[str, str], body: str | None) -> str:
    """``str3`` before encoding. A query key that repeats a signing header's name has its
    values joined with ``&`` under one key, which is how Webull's SDK merges them."""
    pairs = "&".join(f"{key}={params[key]}" for key in sorted(params))
    text = f"{path}&{pairs}"
    return f"{text}&{body_digest(body)}" if body else text


def sign(app_secret: str, path: str, params: Mapping[str, str], body: str | None) -> str:
    """The ``x-signature`` value for an already merged parameter map."""
    encoded = quote(string_to_sign(path, params, body), safe="")
    digest = hmac.new(f"{app_secret}&".encode(), encoded.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class WebullSigner:
    """Signs requests for one app key; holds the secret as a ``SecretStr`` until the HMAC."""

    def __init__(self, app_key: SecretStr, app_secret: SecretStr) -> None:
        self._key = app_key
        self._secret = app_secret

    def __repr__(self) -> str:
        return "WebullSigner(app_key=**********, app_secret=**********)"

    def headers(
        self,
        host: str,
        path: str,
        query: Mapping[str, str],
        body: str | None,
        epoch_s: float,
        nonce: str,
    ) -> dict[str, str]:
        """The signing headers and the signature for one request (``host`` is signed but not
        returned: the HTTP client sends it from the URL)."""
        signed = {
            "x-app-key": self._key.get_secret_value(),
            "x-timestamp": timestamp(epoch_s),
            "x-signature-algorithm": ALGORITHM,
            "x-signature-version": SIGNATURE_VERSION,
            "x-signature-nonce": nonce,
        }
        params = dict(signed, host=host)
        for key, value in query.items():
            params[key] = f"{params[key]}&{value}" if key in params else value
        signature = sign(self._secret.get_secret_value(), path, params, body)
        return signed | {"x-signature": signature}
