"""One CSV import, from the object in S3 to committed customers.

Phases, each recorded in the job's checkpoint so that a worker killed at any moment
is followed by one that continues where it stopped, without creating a customer twice:

1. reading: the object is streamed from S3 (a ranged GET from the checkpoint's byte
   offset when resuming) and parsed in a thread; batches of valid rows are COPYed into a
   temporary table and merged into catalog.customers set-wise, with their rejected rows
   (into catalog.import_errors) and the resume point, one transaction per batch, while
   the thread parses the next one. Passwords are hashed in a process pool first.
   An import that may have to write nothing in the end (a dry run, or one with error
   thresholds, which are judged on the whole file) stages its batches in the job's
   UNLOGGED staging table instead, and
2. merging: merges the staged rows into catalog.customers in one statement, recording
   its counts in the checkpoint in the same transaction (so it happens once).
3. reporting: the errors go to a CSV object in S3; then the final status, the first
   errors, the import.completed event (outbox) and the end of staging commit together.

A job-level problem (not text, no header, a required column missing, too many errors)
ends the job as `failed`; a row-level one is an entry in the error report.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from botocore.exceptions import BotoCoreError, ClientError

from attache_core.events import ImportCompleted, make_event
from attache_core.s3 import BlobStore, is_not_found
from attache_importer import job_store
from attache_importer.csv_reader import (
    Block,
    BlockSplitter,
    Decoder,
    Encoding,
    FileRejected,
    RecordParser,
    check_text,
    detect_encoding,
    sniff_delimiter,
)
from attache_importer.passwords import PasswordHasher
from attache_importer.report import report_key, write_report
from attache_importer.rules import Columns, ConfigError, build_checker, match_columns
from attache_importer.settings import ImporterSettings

log = structlog.get_logger("attache.importer")

SOURCE = "/attache/importer"
# Namespace of import.completed ids: uuid5(namespace, job id), the same on every attempt.
COMPLETED_ID_NAMESPACE = uuid.UUID("0b7f5c3e-2d4a-4f7e-9a61-58e1c2d3b4a5")
SNIFF_BYTES = 64 * 1024


class JobFailed(Exception):
    """The import can't go on: the job ends as failed with this message."""


@dataclass
class ImportContext:
    settings: ImporterSettings
    pool: asyncpg.Pool
    blobs: BlobStore
    hasher: PasswordHasher


@dataclass
class Progress:
    """What the progress writer publishes every fraction of a second."""

    phase: str = "reading"
    progress: float = 0.0
    processed_rows: int = 0
    total_rows: int = 0
    failed_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "progress": round(self.progress, 2),
            "processed_rows": self.processed_rows,
            "total_rows": self.total_rows,
            "failed_rows": self.failed_rows,
        }


@dataclass
class Batch:
    rows: list[tuple]
    errors: list[tuple]
    offset: int
    line: int
    total: int  # records read so far (valid + failed), whole file
    failed: int
    final: bool = False
    # The rows' addresses, lowercased: a batch that shares one with the batch before it
    # starts only once that one has committed (the earlier row must go in first).
    emails: frozenset[str] = frozenset()


@dataclass
class FileInfo:
    encoding: Encoding
    delimiter: str
    header: list[str] | None = None
    columns: dict[str, int] | None = None
    ignored: list[str] = field(default_factory=list)
    seen_non_ascii: bool = False
    size: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding.codec,
            "bom": self.encoding.bom,
            "encoding_label": self.encoding.label,
            "delimiter": self.delimiter,
            "header": self.header,
            "columns": self.columns,
            "ignored_columns": self.ignored,
            "seen_non_ascii": self.seen_non_ascii,
            "size_bytes": self.size,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileInfo:
        return cls(
            encoding=Encoding(d["encoding"], d.get("bom", 0)),
            delimiter=d["delimiter"],
            header=d.get("header"),
            columns=d.get("columns"),
            ignored=d.get("ignored_columns") or [],
            seen_non_ascii=d.get("seen_non_ascii", False),
            size=d.get("size_bytes", 0),
        )


class RowSink:
    """Runs in the parser thread: checks each record and cuts batches at resume points."""

    def __init__(
        self,
        job: ImportJob,
        parser: RecordParser,
        info: FileInfo,
        emit: Any,
        *,
        batch_rows: int,
        total: int,
        failed: int,
        max_columns: int,
        collect_emails: bool,
    ) -> None:
        self.job = job
        self.collect_emails = collect_emails
        self.parser = parser
        self.info = info
        self.emit = emit
        self.batch_rows = batch_rows
        self.total = total
        self.failed = failed
        self.max_columns = max_columns
        self.rows: list[tuple] = []
        self.errors: list[tuple] = []
        self.check = None
        if info.columns is not None and info.header is not None:
            self._use_columns(info.header, info.columns)
        self.last_emit = time.monotonic()

    def _use_columns(self, header: list[str], columns: dict[str, int]) -> None:
        self.parser.width = len(header)
        self.check = build_checker(
            Columns(columns, header, self.info.ignored), phone_format=self.job.phone_format
        )

    def on_record(self, line: int, fields: list[str]) -> None:
        check = self.check
        if check is None:
            self._header(line, fields)
            return
        result = check(line, fields)
        self.total += 1
        if type(result) is tuple:
            self.rows.append(result)
        else:
            self.failed += 1
            job_id = self.job.id
            for column, value, reason in result:
                self.errors.append((job_id, line, column or None, value, reason, "rejected"))

    def _header(self, line: int, fields: list[str]) -> None:
        if len(fields) == 1 and fields[0].strip().lower().startswith("sep="):
            return  # Excel's delimiter hint, already honoured
        if len(fields) > self.max_columns:
            raise FileRejected(
                f"The header (line {line}) has {len(fields)} columns; "
                f"at most {self.max_columns} are supported"
            )
        header = [f.strip() for f in fields]
        try:
            columns = match_columns(header, self.job.mapping_config)
        except ConfigError as exc:
            raise FileRejected(str(exc)) from None
        self.info.header = header
        self.info.columns = columns.index
        self.info.ignored = columns.ignored
        self._use_columns(header, columns.index)

    def on_problem(self, line: int, reason: str) -> None:
        if self.check is None:
            raise FileRejected(f"The header (line {line}) can't be read: {reason}")
        self.total += 1
        self.failed += 1
        self.errors.append((self.job.id, line, None, None, reason, "rejected"))

    def on_boundary(self, offset: int, line: int) -> None:
        if self.check is None:
            return
        if len(self.rows) + len(self.errors) >= self.batch_rows or (
            time.monotonic() - self.last_emit > 0.5 and (self.rows or self.errors)
        ):
            self._emit(offset, line, final=False)

    def _emit(self, offset: int, line: int, *, final: bool) -> None:
        batch = Batch(self.rows, self.errors, offset, line, self.total, self.failed, final)
        if self.collect_emails:
            batch.emails = frozenset([row[2].lower() for row in self.rows])
        self.rows, self.errors = [], []
        self.last_emit = time.monotonic()
        self.emit(batch)

    def finish(self, offset: int) -> None:
        if self.check is None:
            raise FileRejected("The file has no header row")
        self._emit(offset, self.parser.line, final=True)


@dataclass
class ImportJob:
    id: uuid.UUID
    org_id: str
    bucket: str
    object_key: str
    options: dict[str, Any]

    @property
    def mapping_config(self) -> dict[str, str] | None:
        return self.options.get("mapping_config") or None

    @property
    def rules(self) -> dict[str, Any]:
        return self.options.get("validation_rules") or {}

    @property
    def phone_format(self) -> str:
        return self.rules.get("phone_format") or "digits_only"

    @property
    def dry_run(self) -> bool:
        return bool(self.options.get("dry_run"))

    @property
    def on_duplicate(self) -> str:
        return self.options.get("on_duplicate") or "skip"

    @property
    def max_errors(self) -> int | None:
        return self.rules.get("max_errors")

    @property
    def max_error_percent(self) -> float | None:
        return self.rules.get("max_error_percent")

    @property
    def import_type(self) -> str:
        return self.options.get("import_type") or "customers"

    @property
    def merges_at_end(self) -> bool:
        """Whether the whole file is staged before anything is merged: when the import
        may end up writing nothing."""
        return self.dry_run or self.max_errors is not None or self.max_error_percent is not None


class ReadPipeline:
    """S3 → blocks → parser thread → batches → customers (or staging), with backpressure
    both ways."""

    def __init__(
        self,
        ctx: ImportContext,
        job: ImportJob,
        progress: Progress,
        checkpoint: dict[str, Any],
        target: job_store.Target | None,
        concurrent_batches: int,
    ) -> None:
        self.ctx = ctx
        self.job = job
        self.progress = progress
        self.checkpoint = checkpoint  # the last one committed
        self.target = target  # None: stage the file, to merge it at the end
        self.concurrent_batches = concurrent_batches
        self.lanes: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()  # the idle ones
        self.last: BatchRun | None = None  # the batch dispatched last
        self.running: set[asyncio.Task] = set()
        self.blocks: queue.Queue[Block | None] = queue.Queue(maxsize=3)
        # Set (in the loop) when the parser took a block: the feeder waits for it when the
        # queue is full rather than polling, which took the GIL from the parser each time.
        self.room = asyncio.Event()
        self.batches: asyncio.Queue[Batch | BaseException] = asyncio.Queue(maxsize=1)
        self.stopped = threading.Event()
        # The last batch had no duplicate: insert the next one without ON CONFLICT.
        self.fast = True
        self.db_seconds = 0.0  # spent in the batches' transactions

    async def _chunks(self, offset: int) -> Any:
        client = self.ctx.blobs.client
        params: dict[str, Any] = {"Bucket": self.job.bucket, "Key": self.job.object_key}
        if offset:
            params["Range"] = f"bytes={offset}-"
        try:
            resp = await client.get_object(**params)
        except ClientError as exc:
            if is_not_found(exc):
                raise JobFailed("The uploaded file is no longer in storage") from exc
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return  # resuming at the very end
            raise
        body = resp["Body"]
        async with body:
            async for chunk in body.iter_chunks(self.ctx.settings.import_read_chunk_bytes):
                yield chunk

    async def run(self, info: FileInfo | None) -> FileInfo:
        """Read the file from the checkpoint on (self.checkpoint is then the last one)."""
        settings = self.ctx.settings
        checkpoint = self.checkpoint
        offset = checkpoint.get("offset", 0)
        line = checkpoint.get("line", 0)
        chunks = self._chunks(offset).__aiter__()
        head = b""
        if info is None:
            # A fresh start: the encoding, delimiter (and header, in the thread) first.
            while len(head) < SNIFF_BYTES:
                try:
                    head += await chunks.__anext__()
                except StopAsyncIteration:
                    break
            encoding = detect_encoding(head)
            sample, _ = Decoder(encoding).decode(head[encoding.bom : SNIFF_BYTES])
            check_text(sample)
            delimiter = _excel_separator(sample) or sniff_delimiter(sample)
            info = FileInfo(encoding, delimiter)
            offset = encoding.bom
            head = head[encoding.bom :]
        info.size = await self._size()
        decoder = Decoder(info.encoding, seen_non_ascii=info.seen_non_ascii)
        loop = asyncio.get_running_loop()

        def take_block() -> Block | None:
            block = self.blocks.get()
            loop.call_soon_threadsafe(self.room.set)
            return block

        parser = RecordParser(take_block, decoder, info.delimiter, line=line)

        def emit(batch: Batch) -> None:
            if self.stopped.is_set():
                raise _Stopped
            asyncio.run_coroutine_threadsafe(self.batches.put(batch), loop).result()

        sink = RowSink(
            self.job,
            parser,
            info,
            emit,
            batch_rows=settings.import_batch_rows,
            total=checkpoint.get("total", 0),
            failed=checkpoint.get("failed", 0),
            max_columns=settings.import_max_columns,
            collect_emails=self.target is not None and self.concurrent_batches > 1,
        )

        def parse() -> None:
            try:
                parser.run(sink.on_record, sink.on_problem, sink.on_boundary)
                sink.finish(parser._offset or offset)
            except _Stopped:
                return
            except BaseException as exc:  # to the event loop, which fails the job
                if not self.stopped.is_set():
                    asyncio.run_coroutine_threadsafe(self.batches.put(exc), loop).result()

        thread = threading.Thread(target=parse, name=f"csv-{self.job.id}", daemon=True)
        thread.start()
        feeder = asyncio.create_task(self._feed(chunks, head, info, offset))
        try:
            async with contextlib.AsyncExitStack() as connections:
                for _ in range(self.concurrent_batches):
                    conn = await connections.enter_async_context(
                        job_store.batch_connection(settings.database_url)
                    )
                    self.lanes.put_nowait(conn)
                try:
                    while True:
                        item = await self.batches.get()
                        if isinstance(item, BaseException):
                            raise item
                        info.seen_non_ascii = decoder.seen_non_ascii
                        info.encoding = decoder.encoding
                        await self._dispatch(item, info.as_dict())
                        max_errors = self.job.max_errors
                        if max_errors is not None and item.failed > max_errors:
                            await self._drain()  # their errors are in the report
                            raise JobFailed(
                                f"Stopped after {item.failed} invalid rows (max_errors is "
                                f"{max_errors}); nothing was imported"
                            )
                        if item.final:
                            await self._drain()
                            await feeder
                            return info
                finally:
                    await self._abandon()
        finally:
            await self._stop(feeder, thread)

    async def _size(self) -> int:
        head = await self.ctx.blobs.head(self.job.bucket, self.job.object_key)
        if head is None:
            raise JobFailed("The uploaded file is no longer in storage")
        return head.size

    async def _feed(self, chunks: Any, head: bytes, info: FileInfo, offset: int) -> None:
        splitter = BlockSplitter(info.encoding, offset, self.ctx.settings.import_max_record_bytes)
        put = self._put
        size = max(1, info.size)

        # Merged as they are read, the rows are all done at the end of the file.
        span = 99.0 if self.target else 90.0

        async def produce(data: bytes) -> None:
            for block in splitter.feed(data):
                await put(block)
                self.progress.progress = min(span - 1, span * block.end_offset / size)

        if head:
            await produce(head)
        async for chunk in chunks:
            await produce(chunk)
        for block in splitter.finish():
            await put(block)
        await put(None)

    async def _put(self, block: Block | None) -> None:
        while True:
            self.room.clear()
            try:
                self.blocks.put_nowait(block)
                return
            except queue.Full:
                if self.stopped.is_set():
                    return
                await self.room.wait()

    # ---- the batches' transactions: up to concurrent_batches at once, committed in order

    async def _dispatch(self, batch: Batch, file_info: dict[str, Any]) -> None:
        """Start the batch's transaction once a connection is free (and, when it shares an
        address with the batch before it, once that one has committed)."""
        conn = await self.lanes.get()
        previous = self.last
        try:
            if previous is not None:
                if previous.failed():
                    await previous.committed  # raises its error
                if batch.emails & previous.emails:
                    await previous.committed
        except BaseException:
            self.lanes.put_nowait(conn)
            raise
        run = BatchRun(
            seq=previous.seq + 1 if previous else 0,
            emails=batch.emails,
            committed=asyncio.get_running_loop().create_future(),
        )
        self.last = run
        task = asyncio.create_task(self._run_batch(conn, batch, file_info, run, previous))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def _run_batch(
        self,
        conn: asyncpg.Connection,
        batch: Batch,
        file_info: dict[str, Any],
        run: BatchRun,
        previous: BatchRun | None,
    ) -> None:
        try:
            rows = await self._hash_passwords(batch.rows, file_info)
            started = time.monotonic()
            async with conn.transaction():
                await job_store.claim_batch(conn, self.job.id, run.seq)
                run.claimed.set()
                if self.target is None:
                    await job_store.stage_rows(conn, self.job.id, rows)
                    counts = None
                else:
                    counts = await job_store.merge_rows(
                        conn, self.job.id, self.target, rows, fast=self.fast
                    )
                    self.fast = not counts["skipped"]
                if previous is not None:  # commit after it, and only if it did
                    await previous.claimed.wait()
                    await job_store.wait_for_batch(conn, self.job.id, previous.seq)
                    await previous.committed
                checkpoint = self._checkpoint_after(batch, len(rows), counts)
                await job_store.record_batch(
                    conn,
                    self.job.id,
                    batch.errors,
                    checkpoint,
                    self.checkpoint.get("offset"),
                    file_info,
                )
            self.db_seconds += time.monotonic() - started
        except asyncio.CancelledError:
            run.committed.cancel()
            raise
        except BaseException as exc:
            run.committed.set_exception(exc)
            run.committed.exception()  # retrieved: the pipeline raises it where it waits
            raise
        finally:
            run.claimed.set()  # (also when it failed before: the next one must not wait)
            self.lanes.put_nowait(conn)
        self.checkpoint = checkpoint
        run.committed.set_result(None)
        p = self.progress
        p.processed_rows = p.total_rows = batch.total
        p.failed_rows = batch.failed

    async def _hash_passwords(self, rows: list[tuple], file_info: dict[str, Any]) -> list[tuple]:
        columns = file_info.get("columns") or {}
        if "password" not in columns:
            return rows
        with_password = [i for i, r in enumerate(rows) if r[9] is not None]
        if not with_password:
            return rows
        hashes = await self.ctx.hasher.hash([rows[i][9] for i in with_password])
        rows = list(rows)
        for i, digest in zip(with_password, hashes, strict=True):
            rows[i] = rows[i][:9] + (digest,)
        return rows

    def _checkpoint_after(
        self, batch: Batch, rows: int, counts: dict[str, int] | None
    ) -> dict[str, Any]:
        """The resume point after the batch, from the one before it (committed by now)."""
        done = self.checkpoint
        next_phase = "merging" if self.target is None else "reporting"
        checkpoint = {
            **done,
            "phase": next_phase if batch.final else "reading",
            "offset": batch.offset,
            "line": batch.line,
            "total": batch.total,
            "failed": batch.failed,
        }
        if counts is None:
            checkpoint["staged"] = done.get("staged", 0) + rows
        else:
            checkpoint.update({k: done.get(k, 0) + n for k, n in counts.items()})
        return checkpoint

    async def _drain(self) -> None:
        """Until every batch has committed (the first error raised)."""
        if self.last is not None:
            await self.last.committed  # it commits after all the others, or fails
        while self.running:
            await asyncio.gather(*self.running)

    async def _abandon(self) -> None:
        """After an error: until the batches still running have ended, one way or the
        other (each waits only for the ones before it). They are not cancelled: a commit
        cut off in mid-air would leave self.checkpoint behind the database's."""
        while self.running:
            await asyncio.gather(*self.running, return_exceptions=True)

    async def _stop(self, feeder: asyncio.Task, thread: threading.Thread) -> None:
        self.stopped.set()
        feeder.cancel()
        with contextlib.suppress(BaseException):
            await feeder
        # Unblock the thread wherever it waits: on a block, or on room for a batch.
        while thread.is_alive():
            with contextlib.suppress(queue.Full):
                self.blocks.put_nowait(None)
            while not self.batches.empty():
                self.batches.get_nowait()
            await asyncio.sleep(0.005)


class _Stopped(Exception):
    pass


@dataclass
class BatchRun:
    """A batch's transaction as the next batch sees it."""

    seq: int
    emails: frozenset[str]
    committed: asyncio.Future  # its result: it committed; its exception: it did not
    claimed: asyncio.Event = field(default_factory=asyncio.Event)  # holds its batch lock

    def failed(self) -> bool:
        done = self.committed
        return done.done() and (done.cancelled() or done.exception() is not None)


def _excel_separator(sample: str) -> str | None:
    first = sample.split("\n", 1)[0].strip().lower()
    if first.startswith("sep=") and len(first) == 5:
        return sample.split("\n", 1)[0].strip()[4]
    return None


# ---- the job from start to end --------------------------------------------------------------


class ImportRunner:
    def __init__(self, ctx: ImportContext, record: asyncpg.Record) -> None:
        self.ctx = ctx
        options = dict(record["options"] or {})
        self.job = ImportJob(
            record["id"], record["org_id"], record["bucket"], record["object_key"], options
        )
        self.progress = Progress()
        self.timings: dict[str, float] = dict(record["timings"] or {})
        self.started_at: datetime | None = record["started_at"]

    async def run(self, lock_conn: asyncpg.Connection) -> str:
        writer = asyncio.create_task(self._write_progress(lock_conn))
        try:
            try:
                values = await self._phases()
            except (JobFailed, FileRejected) as exc:
                values = await self._failed_values(str(exc))
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        await self._finish(values)
        return values["status"]

    async def _write_progress(self, conn: asyncpg.Connection) -> None:
        interval = self.ctx.settings.import_progress_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await job_store.save_progress(conn, self.job.id, self.progress.as_dict())
            except (asyncpg.PostgresError, OSError):
                log.warning("import_progress_not_saved", job_id=str(self.job.id))

    async def _phases(self) -> dict[str, Any]:
        job = self.job
        async with self.ctx.pool.acquire() as conn:
            record = await job_store.load(conn, job.id)
            checkpoint = dict(record["checkpoint"] or {})
            info = FileInfo.from_dict(record["file_info"]) if record["file_info"] else None
            if job.merges_at_end:
                await job_store.ensure_staging(conn, job.id)
                if checkpoint and checkpoint.get("staged", 0) != await job_store.staged_count(
                    conn, job.id
                ):
                    # Staging is UNLOGGED: a database crash empties it. Start over.
                    log.warning("import_staging_lost", job_id=str(job.id))
                    checkpoint, info = {}, None
            if not checkpoint:
                await job_store.reset(conn, job.id, staging=job.merges_at_end)
                info = None
        # One prefix for the job's ids, whichever attempt inserts them.
        checkpoint.setdefault("id_prefix", job_store.id_prefix())
        target = job_store.Target(job.org_id, job.on_duplicate, checkpoint["id_prefix"])
        if checkpoint.get("phase", "reading") == "reading":
            checkpoint, info = await self._read(checkpoint, info, target)
        total, failed = checkpoint.get("total", 0), checkpoint.get("failed", 0)
        self.progress.processed_rows = self.progress.total_rows = total
        self.progress.failed_rows = failed
        if job.merges_at_end:
            limit = job.max_error_percent
            if limit is not None and total and failed * 100 / total > limit:
                raise JobFailed(
                    f"{failed} of {total} rows are invalid ({failed * 100 / total:.1f}%, more "
                    f"than max_error_percent {limit}); nothing was imported"
                )
            counts = await self._merge_staged(checkpoint, target)
        else:
            counts = {k: checkpoint.get(k, 0) for k in ("created", "updated", "skipped")}
        status = "completed_with_errors" if failed else "completed"
        message = None
        if job.dry_run:
            message = "Dry run: nothing was written; the counts say what an import would do"
        elif total == 0:
            message = "The file has a header but no rows"
        return await self._report_values(
            status=status,
            message=message,
            total=total,
            failed=failed,
            created=counts["created"],
            updated=counts["updated"],
            skipped=counts["skipped"],
        )

    async def _read(
        self, checkpoint: dict[str, Any], info: FileInfo | None, target: job_store.Target
    ) -> tuple[dict[str, Any], FileInfo]:
        """The reading phase, from the checkpoint on: its last checkpoint and the file."""
        started = time.monotonic()
        concurrent = self.ctx.settings.import_concurrent_batches
        if self.job.merges_at_end:
            target = None
        try:
            while True:
                pipeline = ReadPipeline(
                    self.ctx, self.job, self.progress, checkpoint, target, concurrent
                )
                try:
                    info = await pipeline.run(info)
                    return pipeline.checkpoint, info
                except asyncpg.DeadlockDetectedError:
                    if concurrent == 1:
                        raise
                    # Two batches waited on each other (an address PostgreSQL lowercases
                    # to one in the other batch, which the reader's lowercasing didn't
                    # see): read on from the last commit, one batch at a time.
                    log.warning("import_batches_deadlocked", job_id=str(self.job.id))
                    concurrent = 1
                    checkpoint, info = await self._committed(checkpoint["id_prefix"])
                finally:
                    self._add_time("batch_db_seconds", pipeline.db_seconds)
        finally:
            self._add_time("read_seconds", time.monotonic() - started)

    async def _committed(self, id_prefix: str) -> tuple[dict[str, Any], FileInfo | None]:
        """The checkpoint and file as last committed."""
        async with self.ctx.pool.acquire() as conn:
            record = await job_store.load(conn, self.job.id)
        checkpoint = {"id_prefix": id_prefix, **(record["checkpoint"] or {})}
        if "offset" not in checkpoint:
            return checkpoint, None
        return checkpoint, FileInfo.from_dict(record["file_info"])

    async def _merge_staged(
        self, checkpoint: dict[str, Any], target: job_store.Target
    ) -> dict[str, int]:
        self.progress.phase = "merging"
        self.progress.progress = 90.0
        started = time.monotonic()
        async with self.ctx.pool.acquire() as conn:
            counts = await job_store.merge_staged(
                conn, self.job.id, target, checkpoint.get("staged", 0), dry_run=self.job.dry_run
            )
        self._add_time("merge_seconds", time.monotonic() - started)
        return counts

    def _add_time(self, name: str, seconds: float) -> None:
        """Timings add up over the attempts of a job."""
        self.timings[name] = round(self.timings.get(name, 0) + seconds, 3)

    async def _report_values(self, **counts: Any) -> dict[str, Any]:
        """Write the error report (if any) and the job's final values."""
        job = self.job
        self.progress.phase = "reporting"
        started = time.monotonic()
        bucket = key = None
        async with self.ctx.pool.acquire() as conn:
            if await job_store.error_count(conn, job.id):
                bucket, key = job.bucket, report_key(job.org_id, job.id)
                await write_report(conn, self.ctx.blobs, job.id, bucket, key)
            error_log = await job_store.first_errors(
                conn, job.id, self.ctx.settings.import_error_log_limit
            )
        self.timings["report_seconds"] = round(time.monotonic() - started, 3)
        return {
            "status": counts["status"],
            "message": counts["message"],
            "total_rows": counts["total"],
            "failed_rows": counts["failed"],
            "created_rows": counts["created"],
            "updated_rows": counts["updated"],
            "skipped_rows": counts["skipped"],
            "successful_rows": counts["created"] + counts["updated"],
            "error_log": error_log,
            "error_report_bucket": bucket,
            "error_report_key": key,
        }

    async def _failed_values(self, message: str) -> dict[str, Any]:
        log.info("import_failed", job_id=str(self.job.id), reason=message)
        total, failed = self.progress.total_rows, self.progress.failed_rows
        try:
            return await self._report_values(
                status="failed",
                message=message,
                total=total,
                failed=failed,
                created=0,
                updated=0,
                skipped=0,
            )
        except (ClientError, BotoCoreError):
            return {
                "status": "failed",
                "message": message,
                "total_rows": total,
                "failed_rows": failed,
                "created_rows": 0,
                "updated_rows": 0,
                "skipped_rows": 0,
                "successful_rows": 0,
                "error_log": [],
                "error_report_bucket": None,
                "error_report_key": None,
            }

    async def _finish(self, values: dict[str, Any]) -> None:
        job = self.job
        finished = datetime.now(UTC)
        started = self.started_at or finished
        elapsed = (finished - started).total_seconds()
        self.timings["total_seconds"] = round(elapsed, 3)
        if elapsed > 0 and values["total_rows"]:
            self.timings["rows_per_second"] = round(values["total_rows"] / elapsed, 1)
        values["timings"] = self.timings
        event = make_event(
            "import.completed",
            ImportCompleted(
                job_id=job.id,
                org_id=job.org_id,
                import_type=job.import_type,
                status=values["status"],
                dry_run=job.dry_run,
                total_rows=values["total_rows"],
                successful_rows=values["successful_rows"],
                failed_rows=values["failed_rows"],
                skipped_rows=values["skipped_rows"],
                created_rows=values["created_rows"],
                updated_rows=values["updated_rows"],
                message=values["message"],
                error_report_bucket=values["error_report_bucket"],
                error_report_key=values["error_report_key"],
                started_at=self.started_at,
                finished_at=finished,
            ),
            source=SOURCE,
            subject=str(job.id),
            org_id=job.org_id,
            event_id=str(uuid.uuid5(COMPLETED_ID_NAMESPACE, str(job.id))),
        )
        async with self.ctx.pool.acquire() as conn:
            await job_store.finish(conn, job.id, values, event)
        log.info(
            "import_finished",
            job_id=str(job.id),
            status=values["status"],
            total_rows=values["total_rows"],
            created=values["created_rows"],
            failed=values["failed_rows"],
            skipped=values["skipped_rows"],
            seconds=round(elapsed, 2),
        )
