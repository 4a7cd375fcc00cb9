"""Server-side web sessions and login throttling, kept in the registry.

A session cookie carries only a random token; the registry keeps its SHA-256, the user, the
session's CSRF token and when it was created and last used. Ending a session deletes the row,
so a copied cookie stops working at once: after logout, a password change
(:meth:`mst.registry.users.UserStore.add_user`) or an administrator's revoke
(``mst user revoke``). Sessions also end after an idle and an absolute timeout.

Failed logins are counted per account and per client address; after a few free attempts each
further one must wait twice as long as the one before, and an account is locked after a
number of consecutive failures until an administrator unlocks it (``mst user unlock``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mst.registry.db import WRITE_FLAG
from mst.registry.errors import is_busy
from mst.registry.schema import LoginThrottleRow, UserRow, WebSessionRow
from mst.registry.users import Role, User


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@contextmanager
def _write_session(engine: Engine) -> Iterator[Session]:
    """A transaction that writes: on SQLite it takes the write lock at once (BEGIN
    IMMEDIATE, waiting on the busy timeout) instead of failing when a read turns into a
    write while another process writes."""
    with engine.connect() as conn:
        conn.info[WRITE_FLAG] = True
        try:
            with conn.begin(), Session(bind=conn, expire_on_commit=False) as s:
                yield s
                s.flush()
        finally:
            conn.info.pop(WRITE_FLAG, None)


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a session token: what the registry stores instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


#: The session and its user, by token hash (built once: it runs on every request).
_RESOLVE = (
    select(
        WebSessionRow.username,
        WebSessionRow.csrf,
        WebSessionRow.created_at,
        WebSessionRow.last_seen_at,
        UserRow.role,
        UserRow.center_id,
    )
    .join(UserRow, UserRow.username == WebSessionRow.username)
    .where(WebSessionRow.token_hash == bindparam("key"))
)


@dataclass(frozen=True)
class ActiveSession:
    """A valid server-side session: its user and CSRF token."""

    user: User
    csrf: str


class SessionStore:
    """Create, resolve and end server-side sessions.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of an upgraded registry.
    idle_timeout : int
        Seconds without a request after which a session ends.
    absolute_timeout : int
        Seconds after login after which a session ends whatever the activity.
    touch_interval : int
        The last-use time is written at most this often (seconds), so that reading pages
        does not write to the registry on every request; the idle timeout is therefore
        exact to within this interval.
    """

    def __init__(
        self, engine: Engine, idle_timeout: int, absolute_timeout: int, touch_interval: int = 60
    ) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._engine = engine
        self.idle_timeout = dt.timedelta(seconds=idle_timeout)
        self.absolute_timeout = dt.timedelta(seconds=absolute_timeout)
        self.touch_interval = dt.timedelta(seconds=touch_interval)

    def create(self, username: str, address: str | None = None) -> tuple[str, str]:
        """Start a session for ``username``; returns (cookie token, CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = _now()
        with _write_session(self._engine) as s:
            s.add(
                WebSessionRow(
                    token_hash=token_hash(token),
                    username=username,
                    csrf=csrf,
                    created_at=now,
                    last_seen_at=now,
                    address=(address or "")[:64] or None,
                )
            )
        return token, csrf

    def resolve(self, token: str | None) -> ActiveSession | None:
        """The session of a cookie token, or ``None`` if unknown, ended or timed out.

        One query (session joined with its user); a timed-out session is deleted.
        """
        if not token:
            return None
        key = token_hash(token)
        now = _now()
        with self._engine.connect() as conn:  # plain rows: this runs on every request
            row = conn.execute(_RESOLVE, {"key": key}).first()
        if row is None:
            return None
        expired = (
            now - row.created_at > self.absolute_timeout
            or now - row.last_seen_at > self.idle_timeout
        )
        active = ActiveSession(User(row.username, Role(row.role), row.center_id), row.csrf)
        touch = now - row.last_seen_at > self.touch_interval
        if expired:
            self._write(delete(WebSessionRow).where(WebSessionRow.token_hash == key))
            return None
        if touch:
            self._write(
                update(WebSessionRow)
                .where(WebSessionRow.token_hash == key)
                .values(last_seen_at=now)
            )
        return active

    def _write(self, statement: Any) -> None:
        """Run a bookkeeping write (last use, removal of an expired session) in a write
        transaction of its own, so that SQLite waits for the write lock instead of failing a
        read that turned into a write. Best effort: if the registry stays busy, the next
        request does it (an expired session is refused either way)."""
        try:
            with self._engine.connect() as conn:
                conn.info[WRITE_FLAG] = True
                try:
                    with conn.begin():
                        conn.execute(statement)
                finally:
                    conn.info.pop(WRITE_FLAG, None)
        except OperationalError as exc:
            if not is_busy(exc):
                raise

    def end(self, token: str | None) -> str | None:
        """End the session of a token; returns its user name (``None`` if there was none)."""
        if not token:
            return None
        with _write_session(self._engine) as s:
            row = s.get(WebSessionRow, token_hash(token))
            if row is None:
                return None
            s.delete(row)
            return row.username

    def end_all(self, username: str) -> int:
        """End every session of a user (revoke); returns how many were ended."""
        with _write_session(self._engine) as s:
            result = s.execute(delete(WebSessionRow).where(WebSessionRow.username == username))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def count(self, username: str) -> int:
        """Open sessions of a user (expired ones included until next used)."""
        with self._sessions.begin() as s:
            return len(
                s.scalars(
                    select(WebSessionRow.token_hash).where(WebSessionRow.username == username)
                ).all()
            )


@dataclass(frozen=True)
class ThrottlePolicy:
    """Login throttling parameters.

    Attributes
    ----------
    free_failures : int
        Consecutive failures allowed without waiting.
    base_delay : float
        Wait (seconds) after the first failure beyond the free ones; doubles with each further.
    max_delay : float
        Longest wait (seconds).
    lock_after : int
        Consecutive failures after which the account is locked until an administrator
        unlocks it (client addresses are slowed down, never locked).
    """

    free_failures: int = 3
    base_delay: float = 1.0
    max_delay: float = 300.0
    lock_after: int = 10

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures."""
        if failures <= self.free_failures:
            return 0.0
        return float(
            min(self.max_delay, self.base_delay * 2 ** (failures - self.free_failures - 1))
        )


@dataclass(frozen=True)
class ThrottleState:
    """Whether a login attempt may go ahead."""

    locked: bool = False
    wait_seconds: float = 0.0

    @property
    def allowed(self) -> bool:
        """True when the attempt may be checked now."""
        return not self.locked and self.wait_seconds <= 0


class LoginThrottle:
    """Failed-login counters per account and per client address (exponential back-off, lock).

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of an upgraded registry.
    policy : ThrottlePolicy, optional
    """

    def __init__(self, engine: Engine, policy: ThrottlePolicy | None = None) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._engine = engine
        self.policy = policy or ThrottlePolicy()

    @staticmethod
    def _keys(username: str, address: str | None) -> tuple[str, str]:
        return f"account:{username.lower()[:180]}", f"address:{(address or 'unknown')[:180]}"

    def check(self, username: str, address: str | None) -> ThrottleState:
        """May this account be tried from this address now?"""
        now = _now()
        wait = 0.0
        with self._sessions.begin() as s:
            for key in self._keys(username, address):
                row = s.get(LoginThrottleRow, key)
                if row is None:
                    continue
                if row.locked_at is not None:
                    return ThrottleState(locked=True)
                until = row.last_failure_at + dt.timedelta(seconds=self.policy.delay(row.failures))
                wait = max(wait, (until - now).total_seconds())
        return ThrottleState(wait_seconds=max(wait, 0.0))

    def failure(self, username: str, address: str | None) -> bool:
        """Count a failed attempt; returns True when it locked the account."""
        now = _now()
        locked = False
        account_key, address_key = self._keys(username, address)
        with _write_session(self._engine) as s:
            for key in (account_key, address_key):
                row = s.get(LoginThrottleRow, key)
                if row is None:
                    row = LoginThrottleRow(key=key, failures=0, last_failure_at=now)
                    s.add(row)
                row.failures += 1
                row.last_failure_at = now
                if (
                    key == account_key
                    and row.locked_at is None
                    and row.failures >= self.policy.lock_after
                ):
                    row.locked_at = now
                    locked = True
        return locked

    def success(self, username: str, address: str | None) -> None:
        """Reset the counters after a successful login."""
        with _write_session(self._engine) as s:
            s.execute(
                delete(LoginThrottleRow).where(
                    LoginThrottleRow.key.in_(self._keys(username, address))
                )
            )

    def unlock(self, username: str) -> bool:
        """Unlock an account and reset its counter; returns True if it was locked."""
        key = self._keys(username, None)[0]
        with _write_session(self._engine) as s:
            row = s.get(LoginThrottleRow, key)
            if row is None:
                return False
            was_locked = row.locked_at is not None
            s.delete(row)
            return was_locked

    def locked(self, username: str) -> bool:
        """True when the account is locked."""
        with self._sessions.begin() as s:
            row = s.get(LoginThrottleRow, self._keys(username, None)[0])
            return row is not None and row.locked_at is not None
