"""python -m attache_importer"""

from attache_core.logging import configure_logging
from attache_core.worker import run_until_signalled
from attache_importer.settings import ImporterSettings
from attache_importer.worker import run


def main() -> None:
    settings = ImporterSettings()
    configure_logging(settings.log_level, settings.log_format)
    run_until_signalled(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
