"""``S3Tier`` against moto's S3 server: conditional puts, misses, a bucket that is down."""

from __future__ import annotations

import pytest
from s3kit import BUCKET, S3Server

from preread.errors import BadSettings
from preread.s3tier import S3Tier, parse_s3_url
from preread.settings import Settings
from preread.tiers import TierUnavailable


def _tier(s3: S3Server, prefix: str = "p") -> S3Tier:
    env = s3.env(prefix)
    settings = Settings.load(env={**env, "PREREAD_HOME": "/tmp/unused"})
    return S3Tier.from_settings(settings)


def test_put_get_and_immutable_blobs(s3: S3Server) -> None:
    tier = _tier(s3)
    assert tier.get("blobs/ab/abc.mp3") is None
    assert tier.put("blobs/ab/abc.mp3", b"first")
    assert not tier.put("blobs/ab/abc.mp3", b"second")  # never replaced
    assert tier.get("blobs/ab/abc.mp3") == b"first"
    assert tier.put("docs/tts.meta.json", b"1")
    assert tier.put("docs/tts.meta.json", b"2", replace=True)
    assert tier.get("docs/tts.meta.json") == b"2"
    assert sorted(s3.object_keys()) == ["p/blobs/ab/abc.mp3", "p/docs/tts.meta.json"]
    tier.delete("docs/tts.meta.json")
    tier.delete("docs/tts.meta.json")  # absent is fine
    assert tier.get("docs/tts.meta.json") is None
    tier.close()


def test_conditional_put_refuses_a_second_writer(s3: S3Server) -> None:
    """Two instances racing to put the same content: the server keeps the first."""
    tier = _tier(s3)
    s3.client().put_object(Bucket=BUCKET, Key="p/blobs/cd/cd.mp3", Body=b"theirs")
    assert not tier.put("blobs/cd/cd.mp3", b"mine")
    assert tier.get("blobs/cd/cd.mp3") == b"theirs"


def test_a_stopped_bucket_is_unavailable_not_a_crash(s3: S3Server) -> None:
    tier = _tier(s3)
    assert tier.put("blobs/ef/ef.mp3", b"x")
    s3.stop()
    with pytest.raises(TierUnavailable) as info:
        tier.get("blobs/ef/ef.mp3")
    assert "s3://preread-test/p at http://127.0.0.1" in str(info.value)
    assert "test-secret" not in str(info.value)
    with pytest.raises(TierUnavailable):
        tier.put("blobs/gh/gh.mp3", b"y")
    s3.restart()
    assert tier.get("blobs/ef/ef.mp3") == b"x"


@pytest.mark.parametrize("url", ["s3://", "http://bucket/x", "s3://bucket/../x", "s3://bucket?x=1"])
def test_bad_s3_url(url: str) -> None:
    with pytest.raises(BadSettings, match="PREREAD_S3_URL"):
        parse_s3_url(url)


def test_s3_url_parts() -> None:
    assert parse_s3_url("s3://my-bucket") == ("my-bucket", "")
    assert parse_s3_url("s3://my-bucket/a/b/") == ("my-bucket", "a/b")


def test_credentials_never_show(s3: S3Server) -> None:
    settings = Settings.load(env={**s3.env(), "PREREAD_HOME": "/tmp/unused"})
    assert "test-secret" not in repr(settings) and "test-key-id" not in repr(settings)
    assert "test-secret" not in _tier(s3).describe()
