"""python -m attache_gateway"""

from aiohttp import web

from attache_core.logging import configure_logging
from attache_gateway.app import create_app
from attache_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format)
    web.run_app(
        create_app(settings),
        host=settings.bind_host,
        port=settings.gateway_port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
