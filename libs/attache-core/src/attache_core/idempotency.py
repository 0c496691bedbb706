"""Exactly-once effects on top of at-least-once delivery.

A consumer records the message id in its schema's `processed_messages` table in
the same transaction as the message's effect; a redelivery finds the id and
does nothing.
"""

from __future__ import annotations

import asyncpg


async def claim_message(
    conn: asyncpg.Connection, schema: str, consumer: str, message_id: str
) -> bool:
    """True the first time `consumer` sees `message_id`. Call inside the effect's transaction."""
    row = await conn.fetchval(
        f'INSERT INTO "{schema}".processed_messages (consumer, message_id) VALUES ($1, $2)'
        " ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        message_id,
    )
    return row is not None
