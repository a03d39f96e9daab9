"""--pred-probs: a user's own out-of-fold probabilities are checked before anything uses them,
and every wrong file is refused with one line that names what arrived."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from training.errors import TrainingError
from training.pred_probs import load_pred_probs

N = 6


def softmax_rows(n: int = N, width: int = 10, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(n, width))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def saved(tmp_path, array, name: str = "p.npy"):
    path = tmp_path / name
    np.save(path, array, allow_pickle=True)  # the writer may pickle; the reader never unpickles
    return path


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_a_good_array_is_returned_as_float32(tmp_path, dtype):
    probs = softmax_rows().astype(dtype)
    probs /= probs.sum(axis=1, keepdims=True)
    loaded = load_pred_probs(saved(tmp_path, probs), N)
    assert loaded.dtype == np.float32 and loaded.shape == (N, 10)
    np.testing.assert_allclose(loaded, probs.astype(np.float32), rtol=1e-6)


def test_a_fortran_ordered_array_and_rows_within_the_tolerance_are_accepted(tmp_path):
    probs = np.round(softmax_rows(), 4)  # four decimals: rows sum to 1 within ~5e-4
    loaded = load_pred_probs(saved(tmp_path, np.asfortranarray(probs)), N)
    np.testing.assert_allclose(loaded, probs, rtol=1e-6)


def with_row(change) -> np.ndarray:
    probs = softmax_rows()
    change(probs)
    return probs


def set_nan(p):
    p[3, 2] = np.nan


def set_inf(p):
    p[3, 2] = np.inf


def set_negative(p):
    p[4, 0], p[4, 1] = -0.25, p[4, 1] + p[4, 0] + 0.25  # still sums to 1


def set_sum(p):
    p[5] *= 1.01


BAD_ARRAYS = {
    "wrong N": (softmax_rows(N - 1), rf"shape \({N - 1}, 10\), expected \({N}, 10\) — one row per training image"),
    "wrong width": (softmax_rows(width=9), rf"shape \({N}, 9\), expected \({N}, 10\)"),
    "1-D": (softmax_rows().ravel(), rf"shape \({N * 10},\), expected \({N}, 10\)"),
    "NaN": (with_row(set_nan), rf"1 of {N} rows hold NaN or infinity \(first: row 3\)"),
    "inf": (with_row(set_inf), rf"1 of {N} rows hold NaN or infinity \(first: row 3\)"),
    "negative": (with_row(set_negative), rf"1 of {N} rows hold negative values \(first: row 4\)"),
    "rows not summing to 1": (with_row(set_sum), r"1 of 6 rows do not sum to 1 \(first: row 5 sums to 1\.01\)"),
    "int dtype": (np.zeros((N, 10), dtype=np.int64), r"dtype int64, expected a float array of shape \(6, 10\)"),
    "object array": (softmax_rows().astype(object), r"dtype object, expected a float array"),
}


@pytest.mark.parametrize("case", BAD_ARRAYS)
def test_each_bad_array_is_refused_with_one_line_naming_it(tmp_path, case):
    array, message = BAD_ARRAYS[case]
    path = saved(tmp_path, array)
    with pytest.raises(TrainingError, match=rf"^--pred-probs {path}: {message}") as e:
        load_pred_probs(path, N)
    assert "\n" not in str(e.value)


def test_a_pickle_is_refused_without_being_unpickled(tmp_path):
    class Bomb:
        def __reduce__(self):  # would write a file if anything unpickled it
            return (open, (str(tmp_path / "exploded"), "w"))

    path = tmp_path / "p.npy"
    path.write_bytes(pickle.dumps(Bomb()))
    with pytest.raises(TrainingError, match=r"^--pred-probs .*p\.npy: not a \.npy file \(it starts with b'\\x80"):
        load_pred_probs(path, N)
    assert not (tmp_path / "exploded").exists()


def test_an_object_array_in_a_npy_is_refused_before_its_pickled_data_is_read(tmp_path):
    bomb_path = tmp_path / "exploded"

    class Bomb:
        def __reduce__(self):
            return (open, (str(bomb_path), "w"))

    array = np.empty((N, 10), dtype=object)
    array[:] = 0.1
    array[0, 0] = Bomb()
    path = saved(tmp_path, array)
    with pytest.raises(TrainingError, match=r"dtype object"):
        load_pred_probs(path, N)
    assert not bomb_path.exists()


@pytest.mark.parametrize(
    "content, what",
    [
        (b"0.1,0.2,0.7\n", r"not a \.npy file \(it starts with b'0\.1,0\.2,'\)"),
        (b"", r"not a \.npy file \(it starts with b''\)"),
    ],
)
def test_a_file_that_is_not_a_npy_is_refused(tmp_path, content, what):
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    with pytest.raises(TrainingError, match=rf"^--pred-probs {path}: {what}; expected a float array"):
        load_pred_probs(path, N)


def test_an_npz_archive_is_refused(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, probs=softmax_rows())
    with pytest.raises(TrainingError, match=r"not a \.npy file \(it starts with b'PK"):
        load_pred_probs(path, N)


def test_a_truncated_npy_is_refused(tmp_path):
    path = saved(tmp_path, softmax_rows())
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(TrainingError, match=r"unreadable array data .*; expected a float array"):
        load_pred_probs(path, N)


@pytest.mark.parametrize("where, why", [("missing.npy", "No such file or directory"), (".", "Is a directory")])
def test_an_unreadable_path_is_refused(tmp_path, where, why):
    with pytest.raises(TrainingError, match=rf"^--pred-probs .*: cannot read it \({why}\)"):
        load_pred_probs(tmp_path / where, N)
