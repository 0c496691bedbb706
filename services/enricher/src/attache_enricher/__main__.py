"""python -m attache_enricher"""

from attache_core.logging import configure_logging
from attache_core.worker import run_until_signalled
from attache_enricher.settings import EnricherSettings
from attache_enricher.worker import run


def main() -> None:
    settings = EnricherSettings()
    configure_logging(settings.log_level, settings.log_format)
    run_until_signalled(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
