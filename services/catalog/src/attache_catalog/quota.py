"""The monthly AI-processing quota per user and tier (seed 004: free 50, pro unlimited)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from attache_core.auth import Principal


def quota_reason(tier: str, limit: int) -> str:
    return f"monthly AI processing quota reached ({tier} tier: {limit} a month)"


async def take_ai_quota(conn: asyncpg.Connection, principal: Principal, limit: int | None) -> bool:
    """Count one AI processing for this user this month; False (nothing counted) when the
    quota is used up. Call inside the transaction that records the processing."""
    if limit is None:
        return True
    month = datetime.now(UTC).date().replace(day=1)
    used = await conn.fetchval(
        """INSERT INTO catalog.ai_usage (org_id, user_id, month, used) VALUES ($1, $2, $3, 1)
           ON CONFLICT (org_id, user_id, month) DO UPDATE SET used = catalog.ai_usage.used + 1
               WHERE catalog.ai_usage.used < $4
           RETURNING used""",
        principal.org_id,
        principal.sub,
        month,
        limit,
    )
    return used is not None and used <= limit
