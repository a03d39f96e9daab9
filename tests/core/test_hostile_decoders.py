"""Hostile files against the one decoding path: each ends as an InputError naming the file, quickly,
in bounded memory, and without ever starting another program; good files beside them still load.

The files are built at test time by testkit/hostile.py. Peak memory and Ghostscript are checked in
child processes, where nothing else the test session did can blur the measurement.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from inference.core import decoders
from inference.core import fashion_mnist as fm
from inference.core.decoders import decode_bytes, read_image
from inference.core.errors import DatasetError, InferenceError, InputError
from inference.core.input_files import load, load_in_parts
from testkit import hostile
from testkit.examples import examples

ROOT = Path(__file__).resolve().parents[2]
PEAK_LIMIT_KB = 300 * 1024  # the bound for any single hostile file


def run_child(code: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Python `code` in a fresh interpreter with the project importable; its stdout is the result."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def every_entry_point(path: Path) -> list[InferenceError]:
    """The error each way of decoding `path` ends in; a decode that succeeds fails the test."""
    calls = [
        lambda: load(path),
        lambda: list(load_in_parts(path, 64)[1]),
        lambda: decode_bytes(path.read_bytes(), path.name),
    ]
    if path.suffix == ".png":
        calls.append(lambda: read_image(path, resize=True))
    errors = []
    for call in calls:
        with pytest.raises(InferenceError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(path.name) and message.count(path.name) == 1, message  # named once, first
        errors.append(caught.value)
    return errors


# --- images ----------------------------------------------------------------------------------


def test_eps_named_png_never_starts_ghostscript(tmp_path):
    # A `gs` first on PATH that only records its calls: the real one is never at risk of running.
    marker = tmp_path / "gs-was-called"
    shim = tmp_path / "bin" / "gs"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$@" >> "{marker}"\nexit 1\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}"}
    folder = tmp_path / "images"
    folder.mkdir()
    eps = hostile.eps_as_png(folder / "eps.png")
    hostile.good_png(folder / "good.png")

    child = run_child(
        f"""
        from inference.core.decoders import decode_bytes
        from inference.core.decoders import read_image
        from inference.core.errors import InputError
        from inference.core.input_files import load
        loaded = load({str(folder)!r})
        print(loaded.names, loaded.errors)
        eps = {str(eps)!r}
        for call in (lambda: read_image(eps, resize=True), lambda: decode_bytes(open(eps, "rb").read(), "eps.png")):
            try:
                call()
            except InputError as e:
                print(e)
    """,
        env=env,
        timeout=10,
    )
    assert child.returncode == 0, child.stderr
    refused = "not an image Pillow can read (expected PNG or JPEG, got PostScript"
    assert f"['good.png'] [('eps.png', '{refused}" in child.stdout
    assert child.stdout.count("eps.png: not an image Pillow can read") == 2
    assert not marker.exists()

    # The control: unrestricted Pillow does call gs on this very file, so the shim would have seen it.
    control = run_child(f"from PIL import Image; Image.open({str(eps)!r}).load()", env=env, timeout=10)
    assert control.returncode != 0 and marker.exists()


@pytest.mark.parametrize("fmt", hostile.FOREIGN_FORMATS)
def test_other_formats_named_png_are_refused(tmp_path, fmt):
    path = hostile.foreign_as_png(tmp_path / "x.png", fmt)
    assert Image.open(path).format == fmt  # Pillow itself would decode it
    expected = {"WEBP": "WebP"}.get(fmt, fmt)
    for error in every_entry_point(path):
        assert isinstance(error, InputError)
        assert f"x.png: not an image Pillow can read (expected PNG or JPEG, got {expected}" in str(error)


def test_a_jpeg_named_png_is_still_a_jpeg(tmp_path):
    # The format is what the bytes are, not what the file is called: JPEG is allowed under any name.
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(tmp_path / "photo.png", format="JPEG", quality=95)
    assert abs(int(read_image(tmp_path / "photo.png").mean()) - 200) <= 2


@pytest.mark.parametrize(
    "side, why", [(20_000, "decompression bomb"), (12_000, "decompression bomb"), (5_000, "at most 4096x4096")]
)
def test_huge_images_are_refused_from_the_header(tmp_path, side, why):
    # The pixel data after the header is garbage: an error about the size proves it was never decoded.
    valid = hostile.png_bomb(tmp_path / "valid.png", side).read_bytes()
    idat = valid.index(b"IDAT") + 4
    path = tmp_path / "bomb.png"
    path.write_bytes(valid[:idat] + b"\xff" * 64)
    for error in every_entry_point(path):
        assert str(error).startswith("bomb.png: ") and why in str(error)


def test_resize_takes_images_up_to_the_hard_cap(tmp_path):
    hostile.png_bomb(tmp_path / "big.png", decoders.MAX_IMAGE_SIDE)
    assert read_image(tmp_path / "big.png", resize=True).shape == (28, 28)
    with pytest.raises(InputError, match=r"big.png: image is 4096x4096, expected 28x28 \(pass resize"):
        read_image(tmp_path / "big.png")


def test_a_folder_keeps_good_files_and_names_every_hostile_one(tmp_path):
    good = [hostile.good_png(tmp_path / f"good{i}.png", seed=i) for i in range(3)]
    bad = hostile.hostile_images(tmp_path)
    loaded = load(tmp_path)
    assert loaded.names == [p.name for p in good]
    np.testing.assert_array_equal(loaded.images, np.stack([np.asarray(Image.open(p)) for p in good]))
    assert sorted(name for name, _ in loaded.errors) == sorted(p.name for p in bad)
    total, parts = load_in_parts(tmp_path, 4)
    parts = list(parts)
    assert total == len(good) + len(bad)
    assert [n for p in parts for n in p.names] == loaded.names
    assert sorted(e for p in parts for e in p.errors) == sorted(loaded.errors)


# --- IDX -------------------------------------------------------------------------------------


def test_a_gzip_bomb_behind_a_small_header_stops_at_the_header(tmp_path):
    path = hostile.gzip_bomb_idx(tmp_path / "bomb-images-idx3-ubyte.gz")
    assert path.stat().st_size < 2 * 2**20
    for error in every_entry_point(path):
        assert "bomb-images-idx3-ubyte.gz is longer than its header says: header says (10, 28, 28)" in str(error)


def test_an_idx_header_overflowing_int64_names_the_file(tmp_path):
    path = hostile.idx_overflow(tmp_path / "o-images-idx3-ubyte")
    for error in every_entry_point(path):
        claim = f"header says (65536, 65536, 65536, 65536) -> {2**64 + 20} bytes"
        assert f"o-images-idx3-ubyte is truncated: {claim}" in str(error)
    with pytest.raises(DatasetError, match="is truncated"):
        fm.read_idx(path)


def test_an_overflowing_dataset_file_is_a_dataset_error(tmp_path):
    hostile.idx_overflow(tmp_path / "t10k-images-idx3-ubyte")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(hostile.idx_bytes(np.zeros(10_000)))
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte is truncated: header says"):
        fm.load_split("test", tmp_path)


@pytest.mark.parametrize("gzipped", [False, True])
def test_an_idx_file_claiming_more_than_it_holds_is_refused_before_reading(tmp_path, gzipped):
    path = hostile.idx_overclaim(tmp_path / ("c-images-idx3-ubyte" + (".gz" if gzipped else "")), gzipped)
    holds = "gzipped bytes can hold" if gzipped else "file has 2368"
    with pytest.raises(InputError, match=f"is truncated: header says \\(60000, 28, 28\\) -> 47040016 bytes.*{holds}"):
        load_in_parts(path, 64)  # the header check, before any part is read
    for error in every_entry_point(path):
        assert path.name in str(error)


def test_an_idx_file_cut_short_fails_while_streaming_with_its_name(tmp_path):
    data = hostile.idx_bytes(np.zeros((300, 28, 28)))
    (tmp_path / "cut-images-idx3-ubyte.gz").write_bytes(gzip.compress(data)[:-40])
    total, parts = load_in_parts(tmp_path / "cut-images-idx3-ubyte.gz", 100)
    assert total == 300
    with pytest.raises(InputError, match="cut-images-idx3-ubyte.gz is a damaged gzip file"):
        list(parts)


def test_reading_whole_stops_at_the_cap_and_points_to_parts(tmp_path):
    # Honest, 157 MB decoded from 150 KB: more than MAX_DECODED_BYTES, so only parts may read it.
    path = hostile.blank_idx_gz(tmp_path / "big-images-idx3-ubyte.gz", 200_000)
    for call in (lambda: load(path), lambda: decode_bytes(path.read_bytes(), path.name)):
        refused = r"big-images-idx3-ubyte.gz: header says \(200000, 28, 28\).* more than the 134217728 bytes read whole"
        with pytest.raises(InputError, match=refused + ".*load_in_parts"):
            call()
    total, parts = load_in_parts(path, 50_000)
    assert total == 200_000 and len(next(parts).images) == 50_000


def test_parts_of_an_idx_file_match_the_whole(tmp_path):
    images = np.random.default_rng(2).integers(0, 256, (250, 28, 28), dtype=np.uint8)
    plain = hostile.idx_bytes(images)
    for name, data in (("p-images-idx3-ubyte", plain), ("g-images-idx3-ubyte.gz", gzip.compress(plain))):
        (tmp_path / name).write_bytes(data)
        total, parts = load_in_parts(tmp_path / name, 64)
        parts = list(parts)
        assert total == 250 and [len(p.images) for p in parts] == [64, 64, 64, 58]
        np.testing.assert_array_equal(np.concatenate([p.images for p in parts]), images)
        assert parts[-1].names[-1] == "249"


# --- .npy and Parquet ------------------------------------------------------------------------


def test_an_npy_header_claiming_terabytes_is_refused_before_allocating(tmp_path):
    path = hostile.npy_overclaim(tmp_path / "huge.npy")
    for error in every_entry_point(path):
        assert "huge.npy: .npy is truncated: header says (1000000000000, 784) uint8" in str(error)


def test_npy_object_arrays_are_never_unpickled(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}] * 784, dtype=object).reshape(1, 784), allow_pickle=True)
    (tmp_path / "objects.npy").write_bytes(buffer.getvalue())
    for error in every_entry_point(tmp_path / "objects.npy"):
        assert "objects.npy: images must be uint8, another integer type or float, got dtype object" in str(error)


def test_a_truncated_npy_names_the_file(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((4, 28, 28), np.uint8))
    (tmp_path / "cut.npy").write_bytes(buffer.getvalue()[:-1])
    for error in every_entry_point(tmp_path / "cut.npy"):
        assert "cut.npy: .npy is truncated" in str(error) and "file has 3135" in str(error)


@pytest.mark.parametrize(
    "lengths, row, holds", [([784, 783, 785], 1, 783), ([785, 784], 0, 785), ([784] * 3 + [0], 3, 0)]
)
def test_parquet_rows_of_the_wrong_length_name_file_and_row(tmp_path, lengths, row, holds):
    path = hostile.parquet_rows(tmp_path / "rows.parquet", lengths)
    expected = f"rows.parquet: row {row} of column 'image' holds {holds} bytes, expected 784"
    with pytest.raises(InputError, match=expected):
        decode_bytes(path.read_bytes(), path.name)


def test_a_parquet_row_of_ten_million_zeros_is_refused_from_the_footer(tmp_path):
    # The row checks would say "row 1 ... holds 10000000 integers": this message means it was never decoded.
    path = hostile.parquet_bomb(tmp_path / "bomb.parquet")
    assert path.stat().st_size < 4096
    footer = r"bomb.parquet: row group 0 of column 'pixels' holds 10000784 values .* for 2 rows"
    with pytest.raises(InputError, match=footer):
        decode_bytes(path.read_bytes(), path.name)


def test_parquet_with_null_rows_or_pixels_out_of_range(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for column, match in (
        (pa.array([bytes(784), None]), "row 1 of column 'pixels' holds nothing"),
        (pa.array([[0] * 784, [256] * 784], pa.list_(pa.int16())), r"pixels in \[0, 256\]"),
        (pa.array(["a string"]), "column 'pixels' is string"),
    ):
        pq.write_table(pa.table({"pixels": column}), tmp_path / "p.parquet")
        with pytest.raises(InputError, match=f"p.parquet: .*{match}"):
            decode_bytes((tmp_path / "p.parquet").read_bytes(), "p.parquet")


# --- memory ----------------------------------------------------------------------------------


@pytest.mark.slow  # one child process per file, under a memory limit
def test_peak_memory_stays_bounded_for_every_hostile_file(tmp_path):
    files = hostile.hostile_images(tmp_path) + [
        hostile.gzip_bomb_idx(tmp_path / "bomb-images-idx3-ubyte.gz"),
        hostile.idx_overflow(tmp_path / "overflow-images-idx3-ubyte"),
        hostile.idx_overclaim(tmp_path / "claim-images-idx3-ubyte.gz", gzipped=True),
        hostile.npy_overclaim(tmp_path / "huge.npy"),
    ]
    # Honest but 313 MB decoded: fashion-predict's path must walk it in parts, not hold it.
    large = hostile.blank_idx_gz(tmp_path / "large-images-idx3-ubyte.gz", 400_000)
    child = run_child(f"""
        import json
        from pathlib import Path
        from inference.core.decoders import decode_bytes
        from inference.core.errors import InferenceError
        from inference.core.input_files import load, load_in_parts

        def peak_kb():
            return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])

        report = {{}}
        for path in map(Path, {[str(p) for p in files]!r}):
            calls = (lambda: load(path, resize=True), lambda: list(load_in_parts(path, 1024)[1]),
                     lambda: decode_bytes(path.read_bytes(), path.name))
            report[path.name] = [None] * len(calls)
            for i, call in enumerate(calls):
                try:
                    call()
                except InferenceError as e:
                    report[path.name][i] = str(e)
            report[path.name].append(peak_kb())
        total, parts = load_in_parts({str(large)!r}, 1024)
        report["large"] = [total, sum(len(p.images) for p in parts), peak_kb()]
        print(json.dumps(report))
    """)
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    for path in files:
        *messages, peak = report[path.name]
        assert all(m is not None and path.name in m for m in messages), (path.name, messages)
        assert peak < PEAK_LIMIT_KB, (path.name, peak)
    assert report["large"][:2] == [400_000, 400_000] and report["large"][2] < PEAK_LIMIT_KB


# --- random bytes ----------------------------------------------------------------------------


def _valid_file(suffix: str) -> bytes:
    """One valid file per supported kind, for Hypothesis to damage."""
    pixels = np.arange(784, dtype=np.uint8).reshape(28, 28)
    buffer = io.BytesIO()
    if suffix in (".png", ".jpg", ".jpeg"):
        Image.fromarray(pixels).save(buffer, format="PNG" if suffix == ".png" else "JPEG")
    elif suffix == ".npy":
        np.save(buffer, pixels[None] / 255.0)
    elif suffix == ".parquet":
        hostile.parquet_rows(buffer, [784, 784])
    else:
        data = hostile.idx_bytes(pixels[None])
        buffer.write(gzip.compress(data) if suffix.endswith(".gz") else data)
    return buffer.getvalue()


SUFFIXES = (".png", ".jpg", ".jpeg", ".npy", "-images-idx3-ubyte", "-images-idx3-ubyte.gz", ".parquet")


def damaged(valid: bytes):
    """Random bytes, or `valid` with a few bytes overwritten and cut at a random length."""

    def damage(edits, cut):
        data = bytearray(valid)
        for position, value in edits:
            data[position % len(data)] = value
        return bytes(data[:cut])

    edits = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=6)
    return st.one_of(st.binary(max_size=1500), st.builds(damage, edits, st.integers(0, len(valid) + 8)))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_random_and_damaged_bytes_end_in_the_projects_own_errors(suffix, tmp_path_factory):
    name = "x" + suffix
    path = tmp_path_factory.mktemp("random") / name
    valid = _valid_file(suffix)
    assert len(decode_bytes(valid, name)[0]) >= 1  # also imports what decoding needs, outside the deadline

    @settings(max_examples=examples(60), deadline=1000, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(damaged(valid))
    def check(data):
        try:
            images, _ = decode_bytes(data, name)
        except InferenceError as e:  # anything else (struct.error, MemoryError, ...) fails the test
            assert str(e).startswith(name), str(e)
        else:
            assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
        if suffix != ".parquet":  # load() reads files, not Parquet: the same decoders on a file handle
            path.write_bytes(data)
            try:
                load(path)
            except InferenceError as e:
                assert str(e).startswith(name), str(e)

    check()
