from attache_core.settings import CommonSettings


class CatalogSettings(CommonSettings):
    catalog_port: int = 8081
    outbox_batch_size: int = 500
    # The relay polls this often even without a NOTIFY (e.g. after a lost listener connection).
    outbox_poll_seconds: float = 2.0
