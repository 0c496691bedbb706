from attache_core.settings import CommonSettings


class EnricherSettings(CommonSettings):
    # Text is extracted only from objects up to this size; larger ones get checksums only.
    max_extract_bytes: int = 50 * 1024 * 1024
    prefetch: int = 4
