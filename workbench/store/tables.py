"""The base of the store's ``*Tables`` classes: named statements over one database."""
from __future__ import annotations


class Tables:
    """Named statements on some tables of one database.

    Parameters
    ----------
    db : SQLiteDatabase or PostgresDatabase
    """

    def __init__(self, db):
        self.db = db

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.db.location}>"   # never a password of the URL
