"""python -m attache_catalog"""

from aiohttp import web

from attache_catalog.app import create_app
from attache_catalog.settings import CatalogSettings
from attache_core.logging import configure_logging


def main() -> None:
    settings = CatalogSettings()
    configure_logging(settings.log_level, settings.log_format)
    web.run_app(
        create_app(settings),
        host=settings.bind_host,
        port=settings.catalog_port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
