"""The bureau desk's sessions: rows standing for a token until they expire, are signed out or the token is revoked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from .repository import Token, _token
from .tables import desk_sessions, tokens


@dataclass(frozen=True)
class DeskSession:
    id_hash: str
    token: Token
    created_at: datetime
    expires_at: datetime


class Sessions:
    """Sign-in rows on the store's engine; each call is its own short transaction."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def open(self, id_hash: str, token_id: int, now: datetime, expires_at: datetime) -> None:
        with self.engine.begin() as conn:
            # Expired rows go as new ones come: the table holds no more than the sessions still alive.
            conn.execute(desk_sessions.delete().where(desk_sessions.c.expires_at <= now))
            conn.execute(desk_sessions.insert().values(id_hash=id_hash, token_id=token_id, created_at=now,
                                                       expires_at=expires_at))

    def find(self, id_hash: str, now: datetime) -> DeskSession | None:
        """The live session with this id: not expired, and its token not revoked."""
        query = (sa.select(tokens, desk_sessions.c.id_hash, desk_sessions.c.created_at.label("opened_at"),
                           desk_sessions.c.expires_at)
                 .select_from(desk_sessions).join(tokens, tokens.c.id == desk_sessions.c.token_id)
                 .where(desk_sessions.c.id_hash == id_hash, desk_sessions.c.expires_at > now,
                        tokens.c.revoked_at.is_(None)))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return DeskSession(row["id_hash"], _token(row), row["opened_at"], row["expires_at"])

    def close(self, id_hash: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(desk_sessions.delete().where(desk_sessions.c.id_hash == id_hash)).rowcount)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(desk_sessions)).scalar_one()
