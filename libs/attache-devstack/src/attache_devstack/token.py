"""python -m attache_devstack.token --org ORG --sub USER --roles admin,agent

Prints a development HS256 token signed with ATTACHE_JWT_SECRET (or the dev default).
"""

from __future__ import annotations

import argparse

from attache_core.auth import issue_dev_token
from attache_core.settings import CommonSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--org", default="org-demo")
    parser.add_argument("--sub", default="user-demo")
    parser.add_argument("--roles", default="admin", help="comma-separated: admin, agent, customer")
    parser.add_argument("--customer-id", default=None)
    parser.add_argument("--tier", default="free", choices=["free", "pro"])
    parser.add_argument("--ttl", type=int, default=24 * 3600, help="seconds")
    args = parser.parse_args()
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    print(
        issue_dev_token(
            CommonSettings(),
            sub=args.sub,
            org_id=args.org,
            roles=roles,
            customer_id=args.customer_id,
            tier=args.tier,
            ttl_seconds=args.ttl,
        )
    )


if __name__ == "__main__":
    main()
