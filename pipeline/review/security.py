"""Who may use the page and how: sessions, the access token, and protection against cross-site requests.

- Bound to a loopback address, the page needs no token, but only answers requests addressed to a loopback name (a
  web page elsewhere cannot reach it through DNS rebinding).
- Bound elsewhere, a token is required (``--token`` or ``PIPELINE_REVIEW_TOKEN``): sent as
  ``Authorization: Bearer``, or typed once on the login page (or given once as ``?token=``), after which a session
  cookie carries it.
- Every change is a POST carrying the session's CSRF token, from a page of the same origin.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from pipeline.review.db import immediate, stamp

COOKIE = "review_session"
SESSION_HOURS = 12
MIN_TOKEN_LENGTH = 16
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class TokenRequired(ValueError):
    """Binding to a non-loopback address without a (long enough) token."""


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token; refuse tokens too short to resist guessing."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise TokenRequired(f"the token must be at least {MIN_TOKEN_LENGTH} characters (e.g. from "
                            "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")  # fmt: skip
    if not is_loopback(host) and not token:
        raise TokenRequired(
            f"--host {host} makes the page reachable from other machines: give --token (or set "
            "PIPELINE_REVIEW_TOKEN) so only people with the token can use it"
        )


def token_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(expected.encode(), given.encode())


def host_allowed(bind_host: str, host_header: str | None) -> bool:
    """On loopback, only requests addressed to a loopback name are answered (DNS-rebinding defence)."""
    if not is_loopback(bind_host):
        return True
    if not host_header:
        return False
    hostname = urlsplit(f"//{host_header}").hostname or ""
    return hostname.lower() in LOOPBACK_NAMES or is_loopback(hostname)


def same_origin(origin: str | None, referer: str | None, host_header: str | None) -> bool:
    """A state change must come from this site: Origin (or, without it, Referer) must name this host."""
    host = (host_header or "").lower()
    if origin is not None:
        return origin != "null" and (urlsplit(origin).netloc or "").lower() == host
    if referer:
        return (urlsplit(referer).netloc or "").lower() == host
    return True  # browsers send Origin on every POST; other clients still need the session's CSRF token


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    id: str  # the stored digest, also the lease owner
    reviewer: str
    csrf: str
    created_at: str


def create_session(db: sqlite3.Connection, reviewer: str, now: datetime) -> tuple[str, Session]:
    """A new session: returns the cookie value (shown to the browser only) and the session."""
    cookie = secrets.token_urlsafe(32)
    session = Session(_digest(cookie), reviewer, secrets.token_urlsafe(32), stamp(now))
    with immediate(db):
        db.execute("DELETE FROM review_sessions WHERE last_seen < ?", (stamp(now - timedelta(hours=SESSION_HOURS)),))
        db.execute(
            "INSERT INTO review_sessions (id, reviewer, csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?)",
            (session.id, reviewer, session.csrf, session.created_at, session.created_at),
        )
    return cookie, session


def load_session(db: sqlite3.Connection, cookie: str | None, now: datetime) -> Session | None:
    """The live session for a cookie value, or None (unknown or idle too long)."""
    if not cookie or len(cookie) > 200:
        return None
    row = db.execute("SELECT * FROM review_sessions WHERE id = ?", (_digest(cookie),)).fetchone()
    if row is None or row["last_seen"] < stamp(now - timedelta(hours=SESSION_HOURS)):
        return None
    if row["last_seen"] < stamp(now - timedelta(minutes=1)):
        with immediate(db):
            db.execute("UPDATE review_sessions SET last_seen = ? WHERE id = ?", (stamp(now), row["id"]))
    return Session(row["id"], row["reviewer"], row["csrf"], row["created_at"])


def end_session(db: sqlite3.Connection, session: Session) -> None:
    with immediate(db):
        db.execute("DELETE FROM review_leases WHERE session = ?", (session.id,))
        db.execute("DELETE FROM review_sessions WHERE id = ?", (session.id,))


def set_flash(db: sqlite3.Connection, session: Session, message: str) -> None:
    with immediate(db):
        db.execute("UPDATE review_sessions SET flash = ? WHERE id = ?", (message, session.id))


def take_flash(db: sqlite3.Connection, session: Session) -> str | None:
    with immediate(db):
        row = db.execute("SELECT flash FROM review_sessions WHERE id = ?", (session.id,)).fetchone()
        if row is None or row[0] is None:
            return None
        db.execute("UPDATE review_sessions SET flash = NULL WHERE id = ?", (session.id,))
        return row[0]


def clean_reviewer(name: str) -> str | None:
    """A reviewer's name as recorded with their corrections: printable, 1-64 characters."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 64 or not name.isprintable():
        return None
    return name


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
