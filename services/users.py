"""API users and their tokens: create (the token is returned once), list, revoke.

Only a token's SHA-256 is stored; a token may expire, and a revoked or expired token is refused
by ``auth`` with a 401.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import inspect, select
from sqlalchemy.orm import make_transient_to_detached

from extensions import db
from models.auth import User
from models.registry import Enterprise, Inspector, Lab
from sampling.enums import ROLES
from sampling.errors import InvalidInput, NotFound, RuleViolation
from services.audit import record_event

# The record each bound role's token is tied to: (option name, model, the model's key column).
BINDINGS = {
    "inspector": ("inspector", Inspector, Inspector.code),
    "lab": ("lab", Lab, Lab.code),
    "enterprise": ("enterprise", Enterprise, Enterprise.credit_code),
}


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256 (tokens are random, 256 bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random bearer token."""
    return secrets.token_urlsafe(32)


def user_of_token(token: str) -> User | None:
    """The user a bearer token was issued to, revoked or expired ones included; None if none."""
    return db.session.scalar(select(User).where(User.token_hash == hash_token(token)))


def user_fields(user: User) -> dict:
    """A user's columns, from which ``attached_user`` makes it again without a query."""
    return {column.key: getattr(user, column.key) for column in inspect(User).column_attrs}


def attached_user(fields: dict) -> User:
    """The user of ``fields`` (``user_fields``) in the current session, as if loaded by a query:
    the one the session holds already, or one made from the fields and attached without a query
    (its relationships load on use)."""
    held = db.session.identity_map.get(db.session.identity_key(User, fields["id"]))
    if held is not None:
        return held
    user = User(**fields)
    make_transient_to_detached(user)
    db.session.add(user)
    return user


def create_user(name: str, role: str, *, actor: str, now: datetime, bound_to: str | None = None,
                expires_days: int | None = None) -> tuple[User, str]:
    """Make a user and its token; ``bound_to`` is the code of the inspector, lab or enterprise
    (credit code) that a bound role's token acts for. Returns the user and the token, which is
    not kept anywhere."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", {"role": [f"unknown role {role!r}"]})
    if expires_days is not None and expires_days < 1:
        raise InvalidInput("a token lives at least one day", {"expires_days": ["must be at least 1"]})
    if live_users(name):
        raise RuleViolation(f"a live token named {name!r} exists; revoke it first (同名令牌仍有效)",
                            {"name": ["already in use"]})
    user = User(name=name, role=role, created_at=now,
                expires_at=now + timedelta(days=expires_days) if expires_days else None)
    if role in BINDINGS:
        option, model, key = BINDINGS[role]
        if not bound_to:
            raise InvalidInput(f"--{option} CODE is required for role {role}", {option: ["required"]})
        record = db.session.scalar(select(model).where(key == bound_to))
        if record is None:
            raise NotFound(f"no {option} with code {bound_to!r}", {option: ["unknown code"]})
        setattr(user, option, record)
    elif bound_to:
        raise InvalidInput(f"role {role} is not bound to a record", {"role": ["takes no code"]})
    token = new_token()
    user.token_hash = hash_token(token)
    db.session.add(user)
    db.session.flush()
    record_event("create", "user", user.id, actor=actor, after={
        "name": name, "role": role, "bound_to": bound_to, "expires_at": user.expires_at})
    db.session.commit()
    return user, token


def live_users(name: str) -> list[User]:
    """The users named ``name`` whose tokens are not revoked."""
    return list(db.session.scalars(select(User).where(User.name == name, User.revoked_at.is_(None))))


def list_users(now: datetime) -> list[dict]:
    """Every user with its role, bound record, dates and state at ``now`` (active, expired,
    revoked); never a token or its hash."""
    rows = []
    for user in db.session.scalars(select(User).order_by(User.id)):
        bound = user.inspector or user.lab or user.enterprise
        rows.append({
            "id": user.id, "name": user.name, "role": user.role,
            "bound_to": getattr(bound, "code", None) or getattr(bound, "credit_code", None),
            "created_at": user.created_at, "expires_at": user.expires_at, "revoked_at": user.revoked_at,
            "state": user.refusal(now) or "active",
        })
    return rows


def revoke_user(name: str, *, actor: str, now: datetime) -> int:
    """Revoke every live token named ``name``; how many were revoked (NotFound if none)."""
    users = live_users(name)
    if not users:
        raise NotFound(f"no live token named {name!r} (无此有效令牌)", {"name": ["unknown or already revoked"]})
    for user in users:
        user.revoked_at = now
        record_event("revoke", "user", user.id, actor=actor, before={"revoked_at": None},
                     after={"name": name, "revoked_at": now})
    db.session.commit()
    return len(users)
