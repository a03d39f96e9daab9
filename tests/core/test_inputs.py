"""Input coercion without a model: every accepted form becomes the same uint8 batch, every bad
one an InputError (a ValueError, or TypeError for non-arrays) that says what was expected."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from inference.core.arrays import as_uint8_batch, chunks
from inference.core.decoders import read_image
from inference.core.errors import InferenceError, InputError, InputTypeError
from inference.core.input_files import label_file_for, load, load_in_parts
from testkit.examples import examples

uint8_batches = hnp.arrays(np.uint8, st.tuples(st.integers(1, 5), st.just(28), st.just(28)))


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


# --- arrays: properties --------------------------------------------------------------------


@given(uint8_batches)
def test_every_accepted_layout_gives_the_same_batch(batch):
    n = len(batch)
    for layout in (
        batch,
        batch.reshape(n, 784),
        batch.reshape(n, 1, 28, 28),
        np.asfortranarray(batch),
    ):  # the last: not C-contiguous
        out = as_uint8_batch(layout)
        assert out.dtype == np.uint8 and out.shape == (n, 28, 28) and out.flags.c_contiguous
        np.testing.assert_array_equal(out, batch)
    np.testing.assert_array_equal(as_uint8_batch(batch[0]), batch[:1])  # one (28, 28) image


@given(uint8_batches, st.sampled_from([np.float16, np.float32, np.float64]))
def test_tototensor_floats_round_trip_losslessly(batch, dtype):
    # ToTensor divides by 255 in float32; round(x * 255) must give every pixel back exactly.
    scaled = (batch.astype(np.float32) / 255).astype(dtype)
    np.testing.assert_array_equal(as_uint8_batch(scaled), batch)


@given(uint8_batches, st.sampled_from([np.int16, np.int32, np.int64, np.uint16]))
def test_wider_integers_in_range_are_accepted(batch, dtype):
    np.testing.assert_array_equal(as_uint8_batch(batch.astype(dtype)), batch)


@given(uint8_batches)
def test_uint8_contiguous_input_is_not_copied(batch):
    assert as_uint8_batch(batch) is batch


@given(
    hnp.arrays(
        st.sampled_from([np.uint8, np.int64, np.float32, np.float64, np.bool_, np.complex64]),
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=30),
        elements=None,
    )
)
@settings(max_examples=examples(200))
def test_any_array_is_a_batch_or_an_input_error(array):
    try:
        out = as_uint8_batch(array)
    except InputError as e:
        # what it should have been, or (an empty batch: shape (0, 28, 28)) what to pass instead
        assert any(words in str(e) for words in ("expected", "must", "pass at least one image")), str(e)
    else:
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[1:] == (28, 28) and len(out) >= 1


@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not 0 <= x <= 1))
def test_a_single_float_outside_0_1_is_refused(value):
    images = np.zeros((2, 28, 28), np.float64)  # float64: float32 would round tiny negatives to -0.0
    images[1, 3, 4] = value
    with pytest.raises(InputError, match=r"NaN|infinity|\[0, 1\]"):
        as_uint8_batch(images)


@given(st.integers(1, 3000), st.integers(1, 700))
def test_chunks_cover_the_batch_in_order(n, size):
    batch = np.arange(n)
    parts = list(chunks(batch, size))
    assert all(1 <= len(p) <= size for p in parts)
    np.testing.assert_array_equal(np.concatenate(parts), batch)


# --- arrays: named bad cases ---------------------------------------------------------------


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((0, 28, 28), np.uint8), "empty batch"),
        (np.zeros((0, 784), np.uint8), "empty batch"),
        (np.zeros((4, 28, 27), np.uint8), r"got \(4, 28, 27\)"),
        (np.zeros((4, 783), np.uint8), r"got \(4, 783\)"),
        (np.zeros((784,), np.uint8), r"got \(784,\)"),
        (np.zeros((2, 3, 28, 28), np.uint8), r"got \(2, 3, 28, 28\)"),
        (np.zeros((28, 28, 1), np.uint8), "shape"),
        (np.uint8(3), "shape"),
        (np.zeros((2, 28, 28), bool), "dtype bool"),
        (np.zeros((2, 28, 28), np.complex64), "dtype complex64"),
        (np.array([["a"] * 784]), "dtype <U1"),
        (np.full((1, 28, 28), np.nan, np.float32), "NaN"),
        (np.full((1, 28, 28), np.inf), "infinity"),
        (np.full((1, 28, 28), 255.0, np.float32), r"\[0, 1\].*uint8"),
        (np.full((1, 28, 28), -0.5), r"\[0, 1\]"),
        (np.full((1, 28, 28), 256, np.int64), r"0\.\.255"),
        (np.full((1, 28, 28), -1, np.int16), r"0\.\.255"),
    ],
)
def test_bad_arrays_say_what_was_expected(images, match):
    with pytest.raises(InputError, match=match) as caught:
        as_uint8_batch(images)
    assert isinstance(caught.value, (ValueError, InferenceError))


@pytest.mark.parametrize(
    "images, hint",
    [([[0] * 784], "np.asarray"), ((1, 2), "np.asarray"), ("images.png", "str"), (None, "NoneType"), (3, "int")],
)
def test_non_arrays_are_a_type_error(images, hint):
    with pytest.raises(TypeError, match=hint) as caught:
        as_uint8_batch(images)
    assert isinstance(caught.value, InputTypeError) and isinstance(caught.value, InferenceError)


# --- files ---------------------------------------------------------------------------------


@pytest.fixture
def images_folder(tmp_path):
    """Three good PNGs, a JPEG, a truncated PNG, a text file named .png and a wrong-size image."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    for i, p in enumerate(pixels):
        Image.fromarray(p).save(tmp_path / f"good{i}.png")
    Image.fromarray(pixels[0]).save(tmp_path / "photo.jpg", quality=95)
    (tmp_path / "cut.png").write_bytes((tmp_path / "good0.png").read_bytes()[:40])
    (tmp_path / "notes.png").write_text("not an image")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "big.png")
    (tmp_path / "README.txt").write_text("ignored: not an image suffix")
    return tmp_path, pixels


def test_a_folder_keeps_good_images_and_names_the_bad_ones(images_folder):
    folder, pixels = images_folder
    loaded = load(folder)
    assert loaded.names == ["good0.png", "good1.png", "good2.png", "photo.jpg"]
    np.testing.assert_array_equal(loaded.images[:3], pixels)
    assert np.abs(loaded.images[3].astype(int) - pixels[0]).mean() < 10  # JPEG is lossy
    bad = dict(loaded.errors)
    assert set(bad) == {"big.png", "cut.png", "notes.png"}
    assert "32x32, expected 28x28" in bad["big.png"] and "resize" in bad["big.png"]
    assert "Pillow can read" in bad["notes.png"]


def test_resize_is_opt_in(images_folder):
    folder, _ = images_folder
    assert read_image(folder / "big.png", resize=True).shape == (28, 28)
    with pytest.raises(InputError, match="big.png: image is 32x32"):
        read_image(folder / "big.png")


def test_colour_images_become_grayscale(tmp_path):
    Image.new("RGB", (28, 28), (255, 255, 255)).save(tmp_path / "white.png")
    image = read_image(tmp_path / "white.png")
    assert image.dtype == np.uint8 and (image == 255).all()


def test_sixteen_bit_images_are_refused_by_name(tmp_path):
    Image.fromarray(np.zeros((28, 28), np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(InputError, match="deep.png"):
        read_image(tmp_path / "deep.png")


def test_a_folder_of_only_bad_files_is_an_error(tmp_path):
    (tmp_path / "a.png").write_text("x")
    with pytest.raises(InputError, match="none of the 1 images.*a.png"):
        load(tmp_path)


def test_a_folder_without_images_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no .png"):
        load(tmp_path)


def test_idx_files_load_with_the_labels_beside_them(tmp_path):
    images = np.arange(3 * 784, dtype=np.int64).reshape(3, 28, 28) % 256
    labels = np.array([0, 9, 4])
    (tmp_path / "x-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "x-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    loaded = load(tmp_path / "x-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(loaded.images, images)
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.names == ["0", "1", "2"] and label_file_for(tmp_path / "x-images-idx3-ubyte.gz")


def test_idx_labels_that_do_not_match_are_an_error(tmp_path):
    (tmp_path / "y-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 28, 28))))
    (tmp_path / "y-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(2)))
    with pytest.raises(InputError, match=r"shape \(2,\), expected \(3,\)"):
        load(tmp_path / "y-images-idx3-ubyte")


def test_an_idx_file_of_the_wrong_shape_is_named(tmp_path):
    (tmp_path / "labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5)))
    with pytest.raises(InputError, match=r"labels-idx1-ubyte: images must have shape.*got \(5,\)"):
        load(tmp_path / "labels-idx1-ubyte")


def test_a_truncated_idx_file_is_an_inference_error(tmp_path):
    (tmp_path / "t-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 28, 28)))[:-10])
    with pytest.raises(InferenceError, match="truncated"):
        load(tmp_path / "t-images-idx3-ubyte")


def test_npy_files_load_any_accepted_layout(tmp_path):
    batch = np.random.default_rng(1).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "flat.npy", (batch.reshape(4, 784) / 255).astype(np.float32))
    loaded = load(tmp_path / "flat.npy")
    np.testing.assert_array_equal(as_uint8_batch(np.asarray(loaded.images)), batch)
    assert loaded.labels is None


@pytest.mark.parametrize(
    "content, match",
    [
        (lambda p: np.save(p, np.zeros((2, 5))), r"bad.npy: images must have shape"),
        (lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "bad.npy"),
        (lambda p: p.write_bytes(b"\x93NUMPY garbage"), "bad.npy: not a readable .npy"),
    ],
)
def test_bad_npy_files_are_named(tmp_path, content, match):
    path = tmp_path / "bad.npy"
    content(path)
    with pytest.raises(InputError, match=match):
        load(path)


@pytest.mark.parametrize("name", ["missing.npy", "nothing-here"])
def test_missing_inputs_say_what_is_accepted(tmp_path, name):
    with pytest.raises(InputError, match="does not exist; expected an IDX file"):
        load(tmp_path / name)


def test_unknown_file_types_are_refused(tmp_path):
    (tmp_path / "data.csv").write_text("1,2,3")
    with pytest.raises(InputError, match="data.csv: unknown input type"):
        load(tmp_path / "data.csv")


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_parts_cover_a_folder_and_keep_its_errors(images_folder, size):
    folder, _ = images_folder
    whole = load(folder)
    total, parts = load_in_parts(folder, size)
    parts = list(parts)
    assert total == 7 and all(len(p.names) + len(p.errors) <= size for p in parts)
    assert [n for p in parts for n in p.names] == whole.names
    assert sorted(e for p in parts for e in p.errors) == sorted(whole.errors)
    np.testing.assert_array_equal(np.concatenate([p.images for p in parts]), whole.images)


def test_parts_of_an_idx_file_carry_their_labels_and_indices(tmp_path):
    images = np.zeros((5, 28, 28), np.uint8)
    (tmp_path / "z-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "z-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2, 3, 4, 5])))
    total, parts = load_in_parts(tmp_path / "z-images-idx3-ubyte", 2)
    parts = list(parts)
    assert total == 5 and [p.names for p in parts] == [["0", "1"], ["2", "3"], ["4"]]
    assert [p.labels.tolist() for p in parts] == [[1, 2], [3, 4], [5]]


def test_parts_of_a_large_npy_are_views_of_the_file(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((3000, 784), np.uint8))
    total, parts = load_in_parts(tmp_path / "big.npy", 1024)
    first = next(parts)
    assert total == 3000 and first.images.shape == (1024, 28, 28)
    assert isinstance(first.images.base, np.memmap) or isinstance(first.images, np.memmap)


def test_parts_refuse_missing_inputs(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_in_parts(tmp_path / "nope.npy", 10)
