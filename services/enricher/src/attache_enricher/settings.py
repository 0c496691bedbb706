from typing import Literal

from pydantic import SecretStr

from attache_core.settings import CommonSettings


class EnricherSettings(CommonSettings):
    # Objects up to this size are analysed; larger ones get a checksum only ("skipped").
    max_extract_bytes: int = 50 * 1024 * 1024
    # attachment.created messages worked on at once (the queue's prefetch); 0: four per
    # sandbox process, so that each has its next file downloaded while others upload.
    prefetch: int = 0
    # Reprocess requests worked on at once: small, so a later high-priority request
    # overtakes the ones still waiting in the queue.
    reprocess_prefetch: int = 2

    # The sandbox: analysis processes (0: one per CPU), each with a memory and time limit.
    enrich_processes: int = 0
    enrich_timeout_seconds: float = 60.0
    sandbox_memory_mb: int = 1536
    # A process is replaced once an analysis leaves it with more resident memory than
    # this, and after this many analyses in any case (a fresh one costs ~0.5 s of imports).
    sandbox_max_rss_mb: int = 512
    sandbox_max_jobs: int = 1000
    # Text is read from at most this many pages; scanned pages OCR'd at most.
    max_pages: int = 50
    max_ocr_pages: int = 3
    # Images with more pixels are refused before decoding (decompression bombs).
    max_image_pixels: int = 50_000_000
    # DOCX/XLSX/PPTX whose members would inflate beyond this are refused (ZIP bombs).
    max_unzipped_bytes: int = 200 * 1024 * 1024
    ocr_enabled: bool = True
    # The Tesseract binary (Debian: apt-get install tesseract-ocr tesseract-ocr-deu …).
    # Missing, the attachments say `ocr: unavailable` and everything else still runs.
    tesseract_cmd: str = "tesseract"
    thumbnails_enabled: bool = True
    # Where downloads wait for analysis (default: the system's temporary directory).
    work_dir: str | None = None

    # "local" (the default: offline models shipped with the service) or "openai" (any
    # OpenAI-compatible chat-completions endpoint; falls back to local on any failure).
    ai_provider: Literal["local", "openai"] = "local"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = 30.0
    llm_max_chars: int = 12_000
    # "json_schema" (strict structured output) or "json_object" for servers without it.
    llm_response_format: Literal["json_schema", "json_object"] = "json_schema"
