"""python -m attache_importer"""

import gc
import sys

from attache_core.logging import configure_logging
from attache_core.worker import run_until_signalled
from attache_importer.settings import ImporterSettings
from attache_importer.worker import run


def main() -> None:
    # The event loop needs the GIL after every round trip to PostgreSQL and S3, and the
    # parser thread holds it in between: at the default 5 ms switch interval, each wait
    # for it delayed the batches' transactions (imports ran about a sixth slower).
    sys.setswitchinterval(0.0005)
    # An import allocates about ten tuples and lists per row, none of them in a cycle: at
    # the default threshold (700) the collector scanned the young objects every 70 rows,
    # 5% of the importer's instructions per row. Every 50,000 allocations is once a batch.
    gc.set_threshold(50_000)
    settings = ImporterSettings()
    configure_logging(settings.log_level, settings.log_format)
    run_until_signalled(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
