from attache_core.settings import CommonSettings


class CatalogSettings(CommonSettings):
    catalog_port: int = 8081
    outbox_batch_size: int = 500
    # The relay polls this often even without a NOTIFY (e.g. after a lost listener connection).
    outbox_poll_seconds: float = 2.0
    # AI processings a user may use per calendar month, by tier (seed 004); unset = unlimited.
    ai_quota_free_per_month: int | None = 50
    ai_quota_pro_per_month: int | None = None

    def ai_quota(self, tier: str) -> int | None:
        return self.ai_quota_pro_per_month if tier == "pro" else self.ai_quota_free_per_month
