"""Web users and roles: argon2 password hashes, one role each, audited changes.

Roles
-----
``clinician``
    Reads and writes the patients of their own center.
``viewer``
    Reads the patients of their own center.
``analyst``
    Consortium analyst: reads all centers, pseudonymized (no birth dates).
``admin``
    Reads and writes all centers and manages users.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import sessionmaker

from mst.errors import ValidationError
from mst.registry.schema import CenterRow, UserRow, WebSessionRow

_HASHER = PasswordHasher()
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")
#: Password length limits in characters (ASVS 2.1.1 and 2.1.2).
MIN_PASSWORD = 12
MAX_PASSWORD = 128
_TRAILING = re.compile(r"[\d\W_]+$")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-cased (``mst/data/security``; source inside)."""
    text = (
        resources.files("mst.data")
        .joinpath("security/common_passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def check_password(password: str, username: str = "") -> None:
    """Refuse a password that breaks the policy (ASVS 2.1).

    At least :data:`MIN_PASSWORD` and at most :data:`MAX_PASSWORD` characters; not on the
    common-password list (case-insensitive), also not with digits and symbols appended
    ("password1234!", "1234567890123") or as one listed password repeated; not containing the
    user name.

    Raises
    ------
    mst.errors.ValidationError
        Naming the rule broken (the password itself is never repeated).
    """
    password = password or ""
    if len(password) < MIN_PASSWORD:
        raise ValidationError("password", "***", f"must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValidationError("password", "***", f"must have at most {MAX_PASSWORD} characters")
    lowered = password.lower()
    common = common_passwords()
    half = len(lowered) // 2
    repeated = len(lowered) % 2 == 0 and lowered[:half] == lowered[half:] and lowered[:half]
    # a listed password of 6 or more characters followed by nothing but digits and symbols
    listed_prefix = any(
        lowered[:n] in common and not _TRAILING.sub("", lowered[n:])
        for n in range(len(lowered), 5, -1)
    )
    if listed_prefix or (repeated and repeated in common):
        raise ValidationError(
            "password", "***", "is a commonly used password; choose a less guessable one"
        )
    if username and username.lower() in lowered:
        raise ValidationError("password", "***", "must not contain the user name")


class Role(StrEnum):
    """Access roles of the web app."""

    CLINICIAN = "clinician"
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def center_bound(self) -> bool:
        """True for roles limited to one center."""
        return self in (Role.CLINICIAN, Role.VIEWER)

    @property
    def can_write(self) -> bool:
        """True for roles that may change patient records."""
        return self in (Role.CLINICIAN, Role.ADMIN)

    @property
    def pseudonymized(self) -> bool:
        """True for roles that must not see quasi-identifiers (birth dates)."""
        return self is Role.ANALYST


@dataclass(frozen=True)
class User:
    """An authenticated user.

    Attributes
    ----------
    username : str
    role : Role
    center_id : str or None
        The user's center (center-bound roles only).
    """

    username: str
    role: Role
    center_id: str | None

    @property
    def center_scope(self) -> frozenset[str] | None:
        """Centers the user may see (``None`` = all)."""
        return frozenset({self.center_id}) if self.role.center_bound and self.center_id else None


class UserStore:
    """Create and authenticate web users.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of an upgraded registry.
    actor : str
        Who is recorded in the audit trail for user changes.
    hasher : argon2.PasswordHasher, optional
        Hashing parameters for new passwords (argon2 defaults, RFC 9106 low-memory
        profile, unless given). Verification reads the parameters from each hash.
    """

    def __init__(
        self, engine: Engine, actor: str = "system", hasher: PasswordHasher | None = None
    ) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._engine = engine
        self.actor = actor
        self._hasher = hasher or _HASHER

    def add_user(
        self, username: str, password: str, role: str, center_id: str | None = None
    ) -> User:
        """Create a user, or replace the password/role/center of an existing one.

        Raises
        ------
        mst.errors.ValidationError
            Bad username, short password, unknown role, or a center rule broken
            (clinicians and viewers need a registered center; analysts and admins have none).
        """
        if not USERNAME.match(username or ""):
            raise ValidationError(
                "username", username, "2–64 lower-case letters, digits, '.', '_' or '-'"
            )
        check_password(password, username)
        try:
            r = Role(role)
        except ValueError:
            raise ValidationError(
                "role", role, f"must be one of {[x.value for x in Role]}"
            ) from None
        if r.center_bound and not center_id:
            raise ValidationError("center", center_id, f"is required for the {r.value} role")
        if not r.center_bound and center_id:
            raise ValidationError(
                "center", center_id, f"the {r.value} role is not bound to a center"
            )
        from mst.registry.repository import Repository  # its chained audit trail

        repo = Repository(self._engine, self.actor)
        with repo._tx(write=True) as s:
            if center_id and s.get(CenterRow, center_id) is None:
                raise ValidationError("center", center_id, "must be a registered center")
            row = s.get(UserRow, username)
            after = {"username": username, "role": r.value, "center_id": center_id}
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            if row is None:
                s.add(
                    UserRow(
                        username=username,
                        password_hash=self._hasher.hash(password),
                        role=r.value,
                        center_id=center_id,
                        created_at=now,
                    )
                )
                before = None
            else:
                before = {"username": row.username, "role": row.role, "center_id": row.center_id}
                row.password_hash, row.role, row.center_id = (
                    self._hasher.hash(password),
                    r.value,
                    center_id,
                )
                # A new password, role or center ends every open session of the user.
                s.execute(delete(WebSessionRow).where(WebSessionRow.username == username))
            repo._audit(
                s,
                "insert" if before is None else "update",
                "user",
                username,
                None,
                before,
                after,
            )
        return User(username, r, center_id)

    def change_own_password(
        self, username: str, current: str, new: str, address: str | None = None
    ) -> int:
        """A user's own password change, after the current password has been verified.

        Checks the policy (:func:`check_password`; the new password must also differ from
        the current one), stores the new hash, ends every session of the user (the caller
        starts a fresh one for the browser that made the change) and writes one audit row
        by the user (``action = password``, outcome ``changed``, the client address and the
        number of sessions ended; no password material) — one transaction.

        Parameters
        ----------
        username : str
            The user, whose current password the caller has checked (:meth:`authenticate`).
        current, new : str
            The current and the new password.
        address : str, optional
            Client address, for the audit row.

        Returns
        -------
        int
            Sessions ended.

        Raises
        ------
        mst.errors.ValidationError
            The new password breaks the policy, or equals the current one.
        mst.errors.NotFoundError
            No such user.
        """
        check_password(new, username)
        if new == current:
            raise ValidationError(
                "new_password", "***", "must differ from the current password"
            )
        new_hash = self._hasher.hash(new)  # before the write lock: argon2 takes a while
        from mst.errors import NotFoundError
        from mst.registry.repository import Repository

        repo = Repository(self._engine, username)
        with repo._tx(write=True) as s:
            row = s.get(UserRow, username)
            if row is None:
                raise NotFoundError(f"user {username} not found")
            row.password_hash = new_hash
            ended = s.execute(delete(WebSessionRow).where(WebSessionRow.username == username))
            n = int(ended.rowcount or 0)  # type: ignore[attr-defined]
            detail = {"outcome": "changed", "address": address or "unknown", "sessions_ended": n}
            repo._audit(s, "password", "user", username, None, None, detail)
        return n

    def get(self, username: str) -> User | None:
        """The user of that name, or ``None``."""
        with self._sessions.begin() as s:
            row = s.get(UserRow, username)
            return User(row.username, Role(row.role), row.center_id) if row else None

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password matches, else ``None`` (no hint which part was wrong)."""
        with self._sessions.begin() as s:
            row = s.get(UserRow, username)
            if row is None:
                self._hasher.hash(password or "x")  # same cost whether or not the user exists
                return None
            try:
                self._hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                return None
            return User(row.username, Role(row.role), row.center_id)

    def list_users(self) -> list[User]:
        """All users, by name."""
        with self._sessions.begin() as s:
            rows = s.scalars(select(UserRow).order_by(UserRow.username))
            return [User(r.username, Role(r.role), r.center_id) for r in rows]
