import os

from pydantic import Field

from attache_core.settings import CommonSettings


class ImporterSettings(CommonSettings):
    # Rows merged (or staged) per transaction (each commit is a point an interrupted import
    # resumes from). 10,000 measured no faster here, at ~12 MB more peak RSS.
    import_batch_rows: int = Field(default=5_000, ge=100, le=1_000_000)
    # Batches whose transactions run at once (each on its own connection; they commit in
    # file order). Two let the database merge one batch on a second core while it commits
    # the other.
    import_concurrent_batches: int = Field(default=2, ge=1, le=8)
    # Bytes read from S3 at a time.
    import_read_chunk_bytes: int = Field(default=512 * 1024, ge=4096)
    # The longest record (and field) accepted; longer lines are row errors.
    import_max_record_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A header with more columns is refused (the job fails).
    import_max_columns: int = Field(default=1000, ge=10)
    # Errors kept in the job's error_log (the full list is in the report in S3).
    import_error_log_limit: int = Field(default=100, ge=0, le=10_000)
    # Processes hashing passwords; scrypt cost (2**log2_n, r=8, p=1: 16 MiB at 14).
    import_hash_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    import_scrypt_log2_n: int = Field(default=14, ge=10, le=20)
    # How often the job's progress is written while it runs.
    import_progress_seconds: float = Field(default=0.5, gt=0, le=5)
    # Imports one worker runs at once (its queue prefetch).
    import_jobs_per_worker: int = Field(default=1, ge=1, le=16)
