from attache_core.settings import CommonSettings


class ImporterSettings(CommonSettings):
    pass
