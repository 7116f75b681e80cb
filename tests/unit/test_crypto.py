"""Sealing: what opens, what does not, and the settings that refuse an unsafe key store."""

from __future__ import annotations

from pathlib import Path

import pytest

from signpost.crypto import CryptoError, master_key, open_sealed, seal
from signpost.errors import ConfigError
from signpost.settings import CommonSettings

KEY = bytes(range(32))


def test_sealed_bytes_open_only_with_their_key_and_associated_data() -> None:
    blob = seal(KEY, b"rec|e1|k1", b"Victoria Climbie 1991-11-02")
    assert b"Victoria" not in blob
    assert open_sealed(KEY, b"rec|e1|k1", blob) == b"Victoria Climbie 1991-11-02"
    with pytest.raises(CryptoError):
        open_sealed(bytes(32), b"rec|e1|k1", blob)  # another record's key
    with pytest.raises(CryptoError):
        open_sealed(KEY, b"rec|e2|k1", blob)  # moved onto another record
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(CryptoError):
        open_sealed(KEY, b"rec|e1|k1", tampered)
    with pytest.raises(CryptoError):
        open_sealed(KEY, b"rec|e1|k1", blob[:8])


def test_each_seal_has_a_fresh_nonce() -> None:
    assert seal(KEY, b"a", b"same") != seal(KEY, b"a", b"same")


def test_master_key_from_file_wins_and_production_refuses_placeholders(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text("from-a-file\n")
    from_file = master_key(CommonSettings(master_key_file=key_file))
    assert from_file == master_key(CommonSettings(master_key="from-a-file"))
    assert len(from_file) == 32
    assert master_key(CommonSettings()) != from_file
    with pytest.raises(ConfigError, match="SIGNPOST_MASTER_KEY"):
        master_key(CommonSettings(environment="production"))
    with pytest.raises(ConfigError, match="cannot be read"):
        master_key(CommonSettings(master_key_file=tmp_path / "missing"))


def test_production_refuses_a_key_store_beside_the_data() -> None:
    from signpost.crypto import keystore_for

    same = CommonSettings(environment="production",
                          master_key="a-real-master-key",
                          redis_url="redis://db:6379/0", keystore_url="redis://db:6379/0")
    with pytest.raises(ConfigError, match="SIGNPOST_KEYSTORE_URL"):
        keystore_for(same)
    apart = same.model_copy(update={"keystore_url": "redis://keys:6379/0"})
    assert keystore_for(apart).prefix == "sp"  # built; nothing connects until first use
