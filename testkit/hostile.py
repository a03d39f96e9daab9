"""Hostile input files, built at test time: small on disk, each aimed at one way a decoder can fail.

Shared by the decoder, CLI, service and Ray tests. Every builder writes `path` and returns it.
Nothing here is large: the bombs are a few hundred KB to about a MB however much they claim.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# A real EPS that Ghostscript renders in milliseconds: a decoder that regressed to calling gs
# turns it into a scored image (a failing assertion), not a hung test run.
EPS = b"""%!PS-Adobe-3.0 EPSF-3.0
%%BoundingBox: 0 0 28 28
%%EndComments
0.5 setgray 4 4 20 20 rectfill
showpage
%%EOF
"""

# Formats Pillow reads but the decoders must refuse, whatever the file is called.
FOREIGN_FORMATS = ("TIFF", "BMP", "WEBP", "GIF")


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes holding `array`."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def eps_as_png(path: Path) -> Path:
    """An Encapsulated PostScript file named .png: only Ghostscript could decode it."""
    path.write_bytes(EPS)
    return path


def foreign_as_png(path: Path, fmt: str) -> Path:
    """A 28x28 image in `fmt` (one of FOREIGN_FORMATS) named .png."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((28, 28), 128, np.uint8)).save(buffer, format=fmt)
    path.write_bytes(buffer.getvalue())
    return path


def png_bomb(path: Path, side: int) -> Path:
    """A valid side x side 8-bit grayscale PNG of zeros: ~1 KB on disk per Mpixel decoded.

    The zlib stream is one compressed block of rows repeated: after a full flush deflate starts
    afresh, so equal input gives equal output and 20000x20000 builds in well under a second.
    """
    row = bytes(side + 1)  # filter byte 0, then the pixels
    rows_per_block = max(1, 2**20 // len(row))
    blocks, rest = divmod(side, rows_per_block)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the zlib header is added below
    block = deflate.compress(row * rows_per_block) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.compress(row * rest) + deflate.flush(zlib.Z_FINISH)
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(row * rows_per_block, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    stream = b"\x78\xda" + block * blocks + tail + checksum.to_bytes(4, "big")
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grayscale, no interlace
    chunks = _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", stream) + _png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def truncated_png(path: Path) -> Path:
    """A 28x28 PNG cut in the middle of its pixel data."""
    buffer = io.BytesIO()
    Image.fromarray(np.arange(784, dtype=np.uint8).reshape(28, 28)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[:-30])
    return path


def gzip_bomb_idx(path: Path, images: int = 10, expanded: int = 2**30) -> Path:
    """A ~1 MB gzipped IDX file: a header for `images` 28x28 images, then `expanded` bytes of zeros.

    Built from gzip members of 1 MiB each (gzip readers join them), so it takes milliseconds.
    """
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (images, 28, 28))
    zeros = gzip.compress(bytes(2**20), compresslevel=9)
    path.write_bytes(gzip.compress(header + bytes(images * 784)) + zeros * (expanded // 2**20))
    return path


def blank_idx_gz(path: Path, images: int) -> Path:
    """An honest gzipped IDX file of `images` blank 28x28 images, ~1 KB on disk per MiB it holds."""
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (images, 28, 28))
    mebibytes, rest = divmod(images * 784, 2**20)
    zeros = gzip.compress(bytes(2**20), compresslevel=9)
    path.write_bytes(gzip.compress(header) + zeros * mebibytes + gzip.compress(bytes(rest)))
    return path


def idx_overflow(path: Path) -> Path:
    """An IDX header whose dimensions multiply to 2**64: 0 in int64 arithmetic, and no data."""
    path.write_bytes(bytes([0, 0, 8, 4]) + (2**16).to_bytes(4, "big") * 4)
    return path


def idx_overclaim(path: Path, gzipped: bool = False) -> Path:
    """An IDX file whose header claims 60000 images but which holds three."""
    data = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (60_000, 28, 28)) + bytes(3 * 784)
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


def npy_overclaim(path: Path) -> Path:
    """A .npy whose header claims 10**12 images of 784 bytes but which holds one."""
    header = {"descr": "|u1", "fortran_order": False, "shape": (10**12, 784)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)  # magic string included
    path.write_bytes(buffer.getvalue() + bytes(784))
    return path


def parquet_rows(path: Path, lengths: list[int], column: str = "image") -> Path:
    """A Parquet file whose pixel column holds one row of each byte length in `lengths`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({column: [bytes(n) for n in lengths]}), path)
    return path


def parquet_bomb(path: Path, zeros: int = 10**7, column: str = "pixels") -> Path:
    """A Parquet file of under 1 KB whose second row is a list of `zeros` zeros (80 MB as int64)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = pa.array(np.zeros(784 + zeros, np.int64))
    rows = pa.ListArray.from_arrays(pa.array([0, 784, 784 + zeros], pa.int32()), values)
    pq.write_table(pa.table({column: rows}), path, compression="zstd")
    return path


def good_png(path: Path, seed: int = 0) -> Path:
    """A valid 28x28 grayscale PNG of random pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")
    return path


def hostile_images(folder: Path) -> list[Path]:
    """Every hostile image file, named .png, in `folder`: EPS, the foreign formats, bombs, a truncation."""
    files = [eps_as_png(folder / "eps.png"), truncated_png(folder / "cut.png")]
    files += [foreign_as_png(folder / f"{fmt.lower()}.png", fmt) for fmt in FOREIGN_FORMATS]
    files += [png_bomb(folder / "bomb-20000.png", 20_000), png_bomb(folder / "bomb-12000.png", 12_000)]
    return files


# --- hostile corrections stores ----------------------------------------------------------------

STORE_DIGEST = "ab" * 32  # the dataset digest of the stores below; the test split's labels are i % 10
STORE_LABELS = (np.arange(10_000) % 10).astype(np.int64)


def store_with_rows(path: Path, rows: list[tuple], digest: str = STORE_DIGEST, split: str = "test") -> Path:
    """A store of exactly our schema holding `rows` (idx, verdict, new_label, given_label), written
    past its CHECK constraints as another program could (PRAGMA ignore_check_constraints)."""
    import sqlite3

    from inference.core.corrections import CorrectionsStore

    CorrectionsStore.open(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA ignore_check_constraints = ON")
        db.executemany("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, 't')", [(digest, split, *row) for row in rows])
    finally:
        db.close()
    return path


def store_with_statements(path: Path, statements: list[str]) -> Path:
    """A store with our marks and three verdicts, then `statements` run on it by another program."""
    import sqlite3

    from inference.core.corrections import CorrectionsStore

    with CorrectionsStore.open(path) as store:
        store.set_verdict(STORE_DIGEST, "test", [1, 2, 3], "exclude", given_labels=STORE_LABELS)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            db.execute(statement)
    finally:
        db.close()
    return path


# A store written until its files may grow no further (RLIMIT_FSIZE, as a full disk does), then
# closed while still full, so that the checkpoint on close fails half-way through the main file.
# Prints each committed index, and "full" on stderr once a write was refused.
FILL_STORE = """
import resource, signal, sys
import numpy as np
from inference.core.corrections import CorrectionsStore
from inference.core.errors import CorrectionsError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
path, wal_limit, close_limit, count = sys.argv[1], *map(int, sys.argv[2:5])
labels = (np.arange(10_000) % 10).astype(np.int64)
resource.setrlimit(resource.RLIMIT_FSIZE, (wal_limit, resource.RLIM_INFINITY))
store = CorrectionsStore.open(path)
try:
    for i in range(count):
        store.set_verdict("ab" * 32, "test", [i], "exclude", given_labels=labels)
        print(i, flush=True)
except CorrectionsError as e:
    print("full", e, file=sys.stderr, flush=True)
resource.setrlimit(resource.RLIMIT_FSIZE, (close_limit, resource.RLIM_INFINITY))
store.close()
"""


def fill_store(
    path: Path, root: Path, wal_limit: int = 100_000, close_limit: int = 8192, count: int = 10_000
) -> tuple[list[int], str]:
    """(indices committed, what the writer said on stderr) of FILL_STORE run on `path`: at most
    `count` verdicts, one transaction each."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FILL_STORE, str(path), str(wal_limit), str(close_limit), str(count)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [int(line) for line in done.stdout.split()], done.stderr


# A WAL-mode SQLite database of another program, its writer gone without closing it: the rows
# are in the -wal only, and a -shm lies beside it.
UNCLOSED_WAL = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode = WAL")
db.execute("CREATE TABLE songs (title TEXT)")
db.execute("INSERT INTO songs VALUES ('a')")
os._exit(0)
"""


def unclosed_wal_database(path: Path) -> Path:
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", UNCLOSED_WAL, str(path)], check=True, timeout=60)
    return path
