"""Shared fixtures. Real-data tests skip on a user's machine without Fashion-MNIST, but under
CI=true a missing dataset fails: CI installs Debian's dataset-fashion-mnist and must test with it."""

from __future__ import annotations

import collections
import fcntl
import itertools
import os
import shutil

# Before anything imports Qt: the GUI tests run without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Under pytest-xdist (`make test` runs one worker per core), one compute thread per worker, for
# torch and onnxruntime alike (both read it; the Predictor's default_threads does): two workers
# with a thread per core each spun on each other's cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
from hypothesis import settings

from inference.core.errors import DatasetError
from inference.core.fashion_mnist import find_data_dir, load_split

# `make test-fast` draws a fifth of the examples (testkit/examples.py); `make test` draws them all.
settings.register_profile("quick", max_examples=20)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# A test that asks for one of these is marked slow, and `make test-fast` (-m "not slow") leaves it
# out: the first two train both variants on the real data (once per session), the third starts a
# local Ray (4 s, then 1.5 s a Ray Data run however few the images). Other tests that need seconds
# on their own carry @pytest.mark.slow with the reason beside it.
SLOW_FIXTURES = {"model_repo", "model_path", "local_ray"}


def pytest_collection_modifyitems(items):
    """The markers that follow from where a test is and what it needs, so no file repeats them."""
    for item in items:
        if "gui" in item.path.parent.parts[-1:]:
            item.add_marker(pytest.mark.gui)
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# Seconds each long module took (whole suite, and without the slow tests as `make test-fast` runs
# it), two workers on a 2-core machine in a slow period: only their order matters. pytest-xdist
# hands out modules in order of their test count, which left the one-test modules (the two-node
# Ray cluster) for last, with one worker running them while the other sat idle; longest first ends
# the workers together. A module not listed counts SECONDS_PER_TEST a test. Stale figures only
# cost balance, never a result.
MODULE_SECONDS = {
    "tests/adapters/test_ray_engine.py": (49, 1),
    "tests/adapters/test_serve.py": (48, 5.5),
    "tests/adapters/test_ray_cluster.py": (37, 0),
    "tests/training/test_report_versions.py": (34, 0),
    "tests/gui/test_loop_gui.py": (15, 1),
    "tests/adapters/test_oip_load.py": (15, 0.6),
    "tests/training/test_corrections_training.py": (11, 0),
    "tests/gui/test_cleaning_loop_gui.py": (8.6, 0),
    "tests/training/test_training.py": (7.1, 1),
    "tests/training/test_export.py": (6.5, 0.1),
    "tests/training/test_training_hostile.py": (6, 2.7),
    "tests/adapters/test_oip.py": (5.9, 3.1),
    "tests/core/test_hostile_decoders.py": (5.6, 2.9),
    "tests/gui/test_gui_app.py": (5.1, 2.9),
    "tests/gui/test_gui_review.py": (5, 4.6),
    "tests/gui/test_gui_labeler.py": (5, 6.1),
    "tests/core/test_inputs.py": (4.8, 1.8),
    "tests/adapters/test_serve_hostile.py": (4.6, 3.3),
    "tests/gui/test_gui_usability.py": (2.9, 3.1),
    "tests/training/test_label_report.py": (2.8, 4.2),
    "tests/core/test_corrections_store.py": (2.6, 3.2),
    "tests/adapters/test_predict_cli_hostile.py": (2.5, 2.5),
    "tests/gui/test_gui_exchange.py": (2.2, 2),
    "tests/gui/test_gui_tags.py": (2.2, 1.8),
    "tests/core/test_predictor.py": (2.1, 0.4),
    "tests/test_import_contract.py": (2.1, 1.7),
    "tests/core/test_store_hostile.py": (2, 1.9),
    "tests/training/test_cross_val.py": (1.9, 3.8),
    "tests/test_declared_imports.py": (1.8, 2.2),
    "tests/gui/test_gui_x11.py": (1.5, 1.3),
    "tests/core/test_calibration.py": (0.5, 4.8),
}
SECONDS_PER_TEST = 0.03
# In a quick run the modules that train go to one worker, one after the other: the first optimizer a
# process makes imports torch._dynamo (2-3 s), and one worker paying for that beats two. (The whole
# suite keeps them apart: its training modules add up to more than a worker's share.)
TRAINING_MODULES = ("tests/training/", "tests/core/test_calibration.py")
TRAINING_UNIT = "tests/training/ and tests/core/test_calibration.py"


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, called only when it runs the suite
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None  # another --dist: xdist's own scheduler
    from xdist.scheduler import LoadFileScheduling

    quick = "not slow" in (config.getoption("markexpr") or "")

    class LongestModuleFirst(LoadFileScheduling):
        """--dist loadfile with the work queue (module -> its tests) put longest first just before the
        first module is handed out, and in a quick run the modules that train as one unit. The
        collection itself keeps its order: workers are sent indices into it."""

        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return TRAINING_UNIT if quick and module.startswith(TRAINING_MODULES) else module

        def _assign_work_unit(self, node):
            if not self.ordered:
                by_seconds = sorted(self.workqueue.items(), key=lambda unit: -unit_seconds(unit[1], quick))
                self.workqueue.clear()
                self.workqueue.update(by_seconds)
                self.ordered = True
            super()._assign_work_unit(node)

    return LongestModuleFirst(config, log)


def unit_seconds(tests: dict, quick: bool = False) -> float:
    """The seconds a work unit (its test ids) takes; `quick`: without the slow tests (`make test-fast`)."""
    modules = collections.Counter(test.split("::", 1)[0] for test in tests)
    return sum(MODULE_SECONDS[m][quick] if m in MODULE_SECONDS else n * SECONDS_PER_TEST for m, n in modules.items())


@pytest.fixture(scope="session")
def labeler_dirs(tmp_path_factory):
    return tmp_path_factory.mktemp("labeler"), itertools.count()


@pytest.fixture(autouse=True)
def labeler_dir(monkeypatch, labeler_dirs):
    """The corrections store lives here in every test (subprocesses inherit it), never in the user's
    folder. A test that asks for this fixture gets the folder: its own, made only when something
    writes there (a tmp_path for every test cost 2 ms each, a thousand times a run)."""
    root, numbers = labeler_dirs
    path = root / str(next(numbers))
    monkeypatch.setenv("FASHION_LABELER_DIR", str(path))
    return path


def _need_data(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the real-data tests, but {reason}")
    pytest.skip(f"needs the real Fashion-MNIST: {reason}")


@pytest.fixture(scope="session")
def fashion_dir():
    try:
        return find_data_dir()
    except DatasetError as e:
        _need_data(str(e))


@pytest.fixture(scope="session")
def test_split(fashion_dir):
    return load_split("test", fashion_dir)


@pytest.fixture(scope="session")
def model_repo(fashion_dir, tmp_path_factory):
    """The Triton model repository of one real `train-and-export` run with the seed's recipe (both
    variants; fashion_mnist/1/ holds model.onnx, history.json and each variant's weights), trained
    once per test session. Under pytest-xdist the workers share it: the first to ask trains while
    holding a lock in the folder all workers share, the others wait and reuse it (two trainings
    at once on two cores took 48 s each, against 14 s for one)."""
    from training.config import TrainConfig
    from training.train_command import run

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # pytest-N/, above each worker's popen-gwN/
    out, done = shared / "trained-models", shared / "trained-models.done"
    with open(shared / "trained-models.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if training fails
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)  # what a failed run left
            run(TrainConfig(out=str(out), data_dir=str(fashion_dir)))
            done.touch()
    return out


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    """A small valid model built with onnx.helper in milliseconds: no training, no torch."""
    from inference.core.fashion_mnist import dataset_digest
    from testkit.tiny_models import write_tiny_model

    metadata = {"test_accuracy": "0.5", "dataset_sha256": dataset_digest(), "variant": "tiny"}
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "model.onnx", metadata=metadata)


@pytest.fixture(scope="session")
def model_path(model_repo):
    """The exported ONNX model of the session's training run."""
    from inference.core.model_repository import onnx_path

    return onnx_path(model_repo, 1)


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny models on one torch thread: a second thread's syncs cost more than they save, and on a
    shared 2-core CPU a 3-fold run on 3000 images took 21 s with two threads against 0.65 s with one."""
    import torch  # here, not at the top: the torch-free tests must not pay for importing it

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
