"""Upgrading a corrections store written by an older version of this program, in place.

Each step is one function from version N to N+1. `upgrade` runs inside the transaction that
opens the store (BEGIN IMMEDIATE), so a step either completes, version number included, or
leaves the file as it was; steps only add, so every existing row is kept.
"""

from __future__ import annotations

import sqlite3

from inference.core.corrections.schema import SCHEMA_VERSION, TAGS_SCHEMA


def upgrade_v1_to_v2(db: sqlite3.Connection) -> None:
    """Version 2 adds the tags and their history; the verdicts, history and meta tables stay as they are."""
    for statement in TAGS_SCHEMA:
        db.execute(statement)
    db.execute("PRAGMA user_version = 2")


UPGRADES = {1: upgrade_v1_to_v2}  # from version -> the step to the next


def upgrade(db: sqlite3.Connection, version: int) -> None:
    """Bring a store of schema `version` to SCHEMA_VERSION; the caller holds the write transaction."""
    while version < SCHEMA_VERSION:
        UPGRADES[version](db)
        version += 1
