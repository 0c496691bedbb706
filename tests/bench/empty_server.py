"""The baseline: an empty aiohttp JSON handler, served like the gateway serves.

Run as its own process (``python tests/bench/empty_server.py --port N``) so the
baseline pays the same process, socket and HTTP-parsing costs as the service
under test, and on the same event loop (uvloop, as attache_core.web.serve runs
the services). It reads the request body (the same bytes the gateway gets) and
answers ``{"ok": true}``; nothing else.
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web


async def empty(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"ok": True})


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/health", health)
    # Any POST path, so the baseline can take the presign URL's shape verbatim.
    app.router.add_post("/{tail:.*}", empty)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
