"""An S3-compatible bucket as a library's shared tier (``PREREAD_S3_URL``).

``PREREAD_S3_URL=s3://BUCKET[/PREFIX]`` names the bucket; the endpoint, region and
credentials come from the standard AWS variables (``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``), which is how Fly's Tigris hands them over. Any
S3-protocol server works (AWS, Tigris, R2, MinIO, moto).

A blob is put at most once: a ``HEAD`` first (the object is there: nothing to
send), then a conditional put (``If-None-Match: *``) where the server supports it,
so two instances putting the same content never replace each other's object.
Timeouts are short and retries few: a bucket that is slow or down costs a request
a few seconds at most, and the shared tier stops asking it for a while.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from preread.errors import BadSettings
from preread.settings import Settings
from preread.tiers import ObjectTier, TierUnavailable, check_name

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,254}$", re.IGNORECASE)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://BUCKET[/PREFIX]``; BadSettings otherwise."""
    parts = urlsplit(url.strip())
    bucket = parts.netloc
    if parts.scheme != "s3" or not _BUCKET.match(bucket) or parts.query or parts.fragment:
        raise BadSettings(f"bad PREREAD_S3_URL {url[:80]!r}: use s3://BUCKET[/PREFIX]")
    prefix = parts.path.strip("/")
    try:
        if prefix:
            check_name(prefix)
    except ValueError:
        raise BadSettings(f"bad PREREAD_S3_URL {url[:80]!r}: a prefix of plain names") from None
    return bucket, prefix


def _endpoint_shown(endpoint: str | None) -> str:
    if not endpoint:
        return ""
    parts = urlsplit(endpoint)
    return f" at {parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


class S3Tier(ObjectTier):
    kind = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.conditional_puts = True  # until the server says it has none
        config = Config(
            connect_timeout=min(2.0, timeout),
            read_timeout=timeout,
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path" if endpoint else "auto"},
        )
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Tier:
        bucket, prefix = parse_s3_url(settings.s3_url or "")
        return cls(
            bucket,
            prefix,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
        )

    def _key(self, name: str) -> str:
        check_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _unavailable(self, exc: Exception) -> TierUnavailable:
        code = _code(exc)
        detail = f"{code}" if code else type(exc).__name__
        return TierUnavailable(f"{self.describe()}: {detail}: {str(exc)[:200]}")

    def get(self, name: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(name))
            data: bytes = response["Body"].read()
            return data
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._unavailable(exc) from None

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._unavailable(exc) from None

    def put(self, name: str, data: bytes, *, replace: bool = False) -> bool:
        key = self._key(name)
        if not replace and self._exists(key):
            return False
        extra: dict[str, str] = {}
        if not replace and self.conditional_puts:
            extra["IfNoneMatch"] = "*"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)
        except Exception as exc:
            code = _code(exc)
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False  # another instance put the same content first
            if code == "NotImplemented" and extra:  # a server without conditional puts
                self.conditional_puts = False
                return self.put(name, data, replace=replace)
            raise self._unavailable(exc) from None
        return True

    def delete(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(name))
        except Exception as exc:
            if _code(exc) not in ("NoSuchKey", "404", "NotFound"):
                raise self._unavailable(exc) from None

    def describe(self) -> str:
        where = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")
        return where + _endpoint_shown(self.endpoint)

    def close(self) -> None:
        self.client.close()


def _code(exc: Exception) -> str:
    """The S3 error code of a botocore ClientError ('' for a connection error)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
