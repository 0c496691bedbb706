"""S3Presigner must produce exactly the URLs botocore's generate_presigned_url produces."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ParamValidationError

from attache_core import sigv4
from attache_core.sigv4 import S3Presigner

ENDPOINT = "http://127.0.0.1:8333"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
# Contains "/" and "+" like real secrets do.
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY+EXAMPLEKEY"  # noqa: S105 - fake test credential
BUCKET = "attache-bucket.v2_test"
NOW = datetime(2024, 2, 29, 23, 59, 58)  # naive UTC, the form botocore's clock returns

KEYS = [
    pytest.param("plain.txt", id="plain"),
    pytest.param("with space/and  two  spaces.pdf", id="spaces"),
    pytest.param("a+b=c&d?e#f", id="plus-equals-amp-question-hash"),
    pytest.param("~tilde/-dash_under.dot~", id="unreserved"),
    pytest.param("100%/%2F/%20/%", id="percent"),
    pytest.param("!*'();:@$,[]{}|\\^`\"<>", id="reserved-and-unsafe"),
    pytest.param("résumé/Ünïcødé/日本語/файл.txt", id="unicode"),
    pytest.param("emoji-😀/e\u0301-combining", id="astral-and-combining"),
    pytest.param("nbsp\u00a0line-sep\u2028tab\tnewline\n\x7f", id="whitespace-and-control"),
    pytest.param("/".join(f"level{i}" for i in range(40)) + "/leaf", id="deep-path"),
    pytest.param("/leading-slash", id="leading-slash"),
    pytest.param("double//slash///", id="repeated-and-trailing-slashes"),
    pytest.param("a/./b/../c/.", id="dot-segments"),
    pytest.param("..", id="dotdot"),
    pytest.param("x" * 1000, id="1000-ascii"),
    pytest.param("é" * 1000, id="1000-two-byte"),
    pytest.param(("dir é+/" * 143)[:1000], id="1000-mixed-path"),
]

UNICODE_DISPOSITION = (
    "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf"
)
RAW_UNICODE_DISPOSITION = 'inline; filename="résumé 日本.pdf"'


def make_client(endpoint_url: str, region: str) -> Any:
    """A botocore S3 client configured exactly like the project's."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=region,
        config=config,
    )


@pytest.fixture(scope="module")
def client() -> Any:
    return make_client(ENDPOINT, "us-east-1")


@pytest.fixture(scope="module")
def presigner() -> S3Presigner:
    return S3Presigner(ENDPOINT, ACCESS_KEY, SECRET_KEY)


@contextmanager
def botocore_clock(now: datetime) -> Iterator[None]:
    # botocore 1.40's SigV4 signer reads the time via get_current_datetime(), which
    # botocore.auth imports into its own namespace (it no longer calls utcnow()).
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        yield


def botocore_url(
    client: Any,
    operation: str,
    params: dict[str, Any],
    expires_in: int,
    now: datetime = NOW,
) -> str:
    with botocore_clock(now):
        return client.generate_presigned_url(operation, Params=params, ExpiresIn=expires_in)


def subsets(options: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the given optional parameters, from none to all."""
    names = list(options)
    return [
        {name: options[name] for name in chosen}
        for size in range(len(names) + 1)
        for chosen in itertools.combinations(names, size)
    ]


PUT_OPTIONS = subsets(
    {
        "content_type": "application/pdf",
        "content_md5": "1B2M2Y8AsgTpgAmY7PhCfg==",
        "checksum_sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=",
        "content_length": 1048576,
    }
)
GET_OPTIONS = subsets(
    {
        "response_content_disposition": UNICODE_DISPOSITION,
        "response_content_type": "application/pdf; charset=binary",
    }
)
BOTOCORE_PUT_PARAMS = {
    "content_type": "ContentType",
    "content_md5": "ContentMD5",
    "checksum_sha256": "ChecksumSHA256",
    "content_length": "ContentLength",
}


def put_params(key: str, options: dict[str, Any]) -> dict[str, Any]:
    # Same key order as the brief's Params dict; only query parameters are
    # order-sensitive in botocore's URL, but keep it uniform.
    params: dict[str, Any] = {"Bucket": BUCKET, "Key": key}
    for name, botocore_name in BOTOCORE_PUT_PARAMS.items():
        if name in options:
            params[botocore_name] = options[name]
    return params


def get_params(key: str, options: dict[str, Any]) -> dict[str, Any]:
    # botocore emits query parameters in the order of the Params dict.
    params: dict[str, Any] = {"Bucket": BUCKET, "Key": key}
    if "response_content_disposition" in options:
        params["ResponseContentDisposition"] = options["response_content_disposition"]
    if "response_content_type" in options:
        params["ResponseContentType"] = options["response_content_type"]
    return params


def option_id(options: dict[str, Any]) -> str:
    return "+".join(options) or "none"


@pytest.mark.parametrize("options", PUT_OPTIONS, ids=option_id)
@pytest.mark.parametrize("key", KEYS)
def test_put_matches_botocore(
    client: Any, presigner: S3Presigner, key: str, options: dict[str, Any]
) -> None:
    expected = botocore_url(client, "put_object", put_params(key, options), 900)
    assert presigner.presign_put(BUCKET, key, expires_in=900, now=NOW, **options) == expected


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"content_type": "text/plain;  charset=utf-8 "}, id="spaces-trimmed"),
        pytest.param(
            {"content_type": " tëxt/\u00a0plain\t;\u2028x\x1c "}, id="unicode-and-whitespace"
        ),
        pytest.param({"content_type": "application/x-www-form-urlencoded"}, id="form-type"),
        pytest.param(
            {"content_type": "", "content_md5": "", "checksum_sha256": ""}, id="empty-strings"
        ),
        pytest.param({"content_length": 0}, id="zero-length"),
        pytest.param({"content_length": 5 * 1024**4}, id="5-TiB"),
    ],
)
def test_put_header_values_match_botocore(
    client: Any, presigner: S3Presigner, options: dict[str, Any]
) -> None:
    key = "docs/résumé final.pdf"
    expected = botocore_url(client, "put_object", put_params(key, options), 60)
    assert presigner.presign_put(BUCKET, key, expires_in=60, now=NOW, **options) == expected


def test_put_signs_headers_but_keeps_them_out_of_the_query(presigner: S3Presigner) -> None:
    url = presigner.presign_put(
        BUCKET, "k", expires_in=60, now=NOW, content_type="text/plain", content_md5="x"
    )
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-SignedHeaders"] == ["content-md5;content-type;host"]
    assert not {"Content-Type", "Content-MD5", "x-amz-sdk-checksum-algorithm"} & set(query)


@pytest.mark.parametrize("options", GET_OPTIONS, ids=option_id)
@pytest.mark.parametrize("key", KEYS)
def test_get_matches_botocore(
    client: Any, presigner: S3Presigner, key: str, options: dict[str, Any]
) -> None:
    expected = botocore_url(client, "get_object", get_params(key, options), 3600)
    assert presigner.presign_get(BUCKET, key, expires_in=3600, now=NOW, **options) == expected


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"response_content_disposition": RAW_UNICODE_DISPOSITION}, id="raw-unicode"),
        pytest.param(
            {"response_content_disposition": 'attachment; filename="a+b=c&d%20e~f.txt"'},
            id="query-metacharacters",
        ),
        pytest.param(
            {"response_content_disposition": "", "response_content_type": ""}, id="empty-strings"
        ),
        pytest.param({"response_content_type": "text/plain;  charset=utf-8 "}, id="spaces-kept"),
    ],
)
def test_get_response_overrides_match_botocore(
    client: Any, presigner: S3Presigner, options: dict[str, Any]
) -> None:
    key = "docs/résumé final.pdf"
    expected = botocore_url(client, "get_object", get_params(key, options), 3600)
    assert presigner.presign_get(BUCKET, key, expires_in=3600, now=NOW, **options) == expected


@pytest.mark.parametrize(
    ("upload_id", "part_number"),
    [
        pytest.param("2~abcDEF123", 1, id="simple"),
        pytest.param("VXBsb2FkIElE+/=Zm9y/Ym9i==", 10000, id="base64-like"),
        pytest.param("id with spaces & ü", 42, id="unicode"),
    ],
)
@pytest.mark.parametrize("key", KEYS)
def test_upload_part_matches_botocore(
    client: Any, presigner: S3Presigner, key: str, upload_id: str, part_number: int
) -> None:
    params = {"Bucket": BUCKET, "Key": key, "UploadId": upload_id, "PartNumber": part_number}
    expected = botocore_url(client, "upload_part", params, 600)
    actual = presigner.presign_upload_part(
        BUCKET, key, upload_id=upload_id, part_number=part_number, expires_in=600, now=NOW
    )
    assert actual == expected


@pytest.mark.parametrize("expires_in", [1, 3600, 604800])
def test_expiry_matches_botocore(client: Any, presigner: S3Presigner, expires_in: int) -> None:
    expected = botocore_url(client, "get_object", {"Bucket": BUCKET, "Key": "k"}, expires_in)
    assert presigner.presign_get(BUCKET, "k", expires_in=expires_in, now=NOW) == expected


@pytest.mark.parametrize(
    ("endpoint_url", "region"),
    [
        pytest.param("http://127.0.0.1:8333/", "us-east-1", id="trailing-slash"),
        pytest.param("http://LocalHost:80", "us-east-1", id="default-port-and-case"),
        pytest.param("https://s3.eu-central-1.amazonaws.com", "eu-central-1", id="aws-https"),
        pytest.param("https://storage.example.com:8443", "auto", id="custom-https-port"),
        pytest.param("http://[::1]:9000", "us-east-1", id="ipv6"),
        pytest.param("http://gateway:8080/s3", "us-east-1", id="path-prefix"),
    ],
)
def test_endpoints_and_regions_match_botocore(endpoint_url: str, region: str) -> None:
    client = make_client(endpoint_url, region)
    presigner = S3Presigner(endpoint_url, ACCESS_KEY, SECRET_KEY, region)
    key = "a b/ü+.txt"
    params = {"Bucket": BUCKET, "Key": key, "ContentType": "text/plain"}
    expected = botocore_url(client, "put_object", params, 300)
    actual = presigner.presign_put(BUCKET, key, expires_in=300, now=NOW, content_type="text/plain")
    assert actual == expected


def test_signing_key_is_derived_once_per_day_and_again_when_the_date_changes(
    client: Any,
) -> None:
    presigner = S3Presigner(ENDPOINT, ACCESS_KEY, SECRET_KEY)
    params = {"Bucket": BUCKET, "Key": "report.pdf"}
    instants = [
        (datetime(2024, 2, 29, 0, 0, 0), 1),
        (datetime(2024, 2, 29, 23, 59, 59), 1),  # same day: cached key reused
        (datetime(2024, 3, 1, 0, 0, 0), 2),  # date changed: re-derived
        (datetime(2024, 3, 1, 12, 0, 0), 2),
        (datetime(2024, 2, 29, 12, 0, 0), 3),  # clock went back a day: re-derived again
    ]
    with mock.patch.object(sigv4, "_derive_signing_key", wraps=sigv4._derive_signing_key) as derive:
        for now, derivations in instants:
            expected = botocore_url(client, "get_object", params, 300, now=now)
            assert presigner.presign_get(BUCKET, "report.pdf", expires_in=300, now=now) == expected
            assert derive.call_count == derivations


def test_aware_now_is_converted_to_utc(client: Any, presigner: S3Presigner) -> None:
    aware = NOW.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=5, minutes=30)))
    expected = botocore_url(client, "get_object", {"Bucket": BUCKET, "Key": "k"}, 60, now=NOW)
    assert presigner.presign_get(BUCKET, "k", expires_in=60, now=aware) == expected


def test_default_now_is_the_current_utc_time(client: Any, presigner: S3Presigner) -> None:
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    url = presigner.presign_get(BUCKET, "k", expires_in=60)
    after = datetime.now(UTC).replace(tzinfo=None)
    signed_at = datetime.strptime(parse_qs(urlsplit(url).query)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    assert before <= signed_at <= after
    assert url == botocore_url(client, "get_object", {"Bucket": BUCKET, "Key": "k"}, 60, signed_at)


@pytest.mark.parametrize("bucket", ["", "bucket/evil", "bucket?x", "bücket", "bucket\n"])
def test_invalid_bucket_is_rejected_like_botocore(
    client: Any, presigner: S3Presigner, bucket: str
) -> None:
    with pytest.raises(ValueError, match="bucket"):
        presigner.presign_get(bucket, "k", expires_in=60, now=NOW)
    if bucket != "bucket\n":  # botocore's "$" anchor lets a trailing newline through
        with pytest.raises(ParamValidationError):
            botocore_url(client, "get_object", {"Bucket": bucket, "Key": "k"}, 60)


def test_empty_key_is_rejected_like_botocore(client: Any, presigner: S3Presigner) -> None:
    with pytest.raises(ValueError, match="key"):
        presigner.presign_get(BUCKET, "", expires_in=60, now=NOW)
    with pytest.raises(ParamValidationError):
        botocore_url(client, "get_object", {"Bucket": BUCKET, "Key": ""}, 60)
