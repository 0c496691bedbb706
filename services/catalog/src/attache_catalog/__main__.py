"""python -m attache_catalog"""

from attache_catalog.app import create_app
from attache_catalog.settings import CatalogSettings
from attache_core.logging import configure_logging
from attache_core.web import serve


def main() -> None:
    settings = CatalogSettings()
    configure_logging(settings.log_level, settings.log_format)
    serve(create_app(settings), settings.bind_host, settings.catalog_port)


if __name__ == "__main__":
    main()
