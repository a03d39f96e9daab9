"""The atomic writer: a file appears complete under its name or not at all, and a failure leaves
the old file and no temporary file behind."""

from __future__ import annotations

import os
import stat

import pytest

from inference.core.atomic_write import AtomicFile, atomic_write


def test_atomic_write_makes_folders_and_a_world_readable_file_whatever_the_umask(tmp_path):
    path = tmp_path / "a" / "b" / "model.onnx"
    old = os.umask(0o077)
    try:
        atomic_write(path, b"first")
        atomic_write(path, b"second")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(path.parent) == ["model.onnx"]


def test_a_failure_inside_the_block_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        with AtomicFile(path) as f:
            f.write("half of the new")
            f.flush()
            raise KeyboardInterrupt
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["results.csv"]


def test_nothing_appears_until_commit(tmp_path):
    path = tmp_path / "results.csv"
    results = AtomicFile(path)
    results.stream.write("row\n")
    results.stream.flush()
    assert not path.exists()
    results.commit()
    assert path.read_text() == "row\n" and os.listdir(tmp_path) == ["results.csv"]
    results.discard()  # after a commit: a no-op that must not remove the committed file
    assert path.read_text() == "row\n"


def test_a_symlink_keeps_pointing_at_the_new_contents(tmp_path):
    (tmp_path / "real.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    with AtomicFile(tmp_path / "link.csv") as f:
        f.write("new\n")
    assert (tmp_path / "link.csv").is_symlink() and (tmp_path / "real.csv").read_text() == "new\n"


def test_a_device_is_written_in_place_and_stays_a_device(tmp_path):
    with AtomicFile("/dev/null") as f:
        f.write("discarded\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_name_as_long_as_the_file_system_allows_still_gets_a_temporary_file(tmp_path):
    path = tmp_path / ("r" * 250 + ".csv")
    with AtomicFile(path) as f:
        f.write("ok\n")
    assert path.read_text() == "ok\n"


def test_a_handle_in_dev_is_written_through_not_replaced(tmp_path):
    # /dev/fd/N names the file the shell opened for `>> out.csv`: replacing it would drop what was there.
    out = tmp_path / "out.csv"
    out.write_text("kept\n")
    with open(out, "a") as opened:
        with AtomicFile(f"/dev/fd/{opened.fileno()}") as f:
            f.write("added\n")
    assert out.read_text() == "kept\nadded\n" and os.listdir(tmp_path) == ["out.csv"]
