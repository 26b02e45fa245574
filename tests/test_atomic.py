"""fem.atomic: the one atomic-write helper (temporary beside the target, then os.replace)."""
import os

import pytest

from fem.atomic import atomic_path, temporary_name, write_bytes_atomic, write_text_atomic


def test_success_replaces_the_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert not target.with_name(tmp.name).exists(), "the writer creates the temporary, not the helper"
        tmp.write_text("new")
        assert target.read_text() == "old", "the target changes only when the block ends"
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_exception_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.h5"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert not list(tmp_path.glob(".out.h5*")), "a temporary was left behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]


def test_exception_before_anything_was_written_creates_nothing(tmp_path):
    target = tmp_path / "new.json"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_temporary_is_hidden_beside_the_target_and_unique(tmp_path):
    target = tmp_path / "sub" / "model.npz"
    target.parent.mkdir()
    with atomic_path(target, suffix=".part") as tmp:
        assert tmp.parent == target.parent, "same folder, so os.replace is a rename"
        assert tmp.name.startswith(".model.npz.") and tmp.name.endswith(".part")
        assert str(os.getpid()) in tmp.name
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x"
    names = {temporary_name(target).name for _ in range(20)}
    assert len(names) == 20 and all(n.startswith(".model.npz.") and n.endswith(".tmp") for n in names)


def test_write_text_and_bytes(tmp_path):
    path = write_text_atomic(str(tmp_path / "a.yaml"), "x: 1\nname: é\n")
    assert path == tmp_path / "a.yaml" and path.read_text(encoding="utf-8") == "x: 1\nname: é\n"
    assert write_bytes_atomic(tmp_path / "b.bin", b"\0\1").read_bytes() == b"\0\1"
    write_text_atomic(path, "x: 2\n")
    assert path.read_text() == "x: 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.bin"]


def test_missing_folder_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_text_atomic(tmp_path / "no" / "such.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_surrogate_generate_reexports_the_one_helper():
    from surrogate import generate
    assert generate.write_text_atomic is write_text_atomic
