"""python -m attache_gateway"""

from attache_core.logging import configure_logging
from attache_core.web import serve
from attache_gateway.app import create_app
from attache_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format)
    serve(create_app(settings), settings.bind_host, settings.gateway_port)


if __name__ == "__main__":
    main()
