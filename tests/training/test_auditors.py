"""Each auditor: a named network that gives (N, 10) logits, a JSON-serialisable recipe, and
out-of-fold probabilities whose rows sum to 1; the default is one of them."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from training.auditors import AUDITORS, DEFAULT_AUDITOR
from training.config import TrainConfig
from training.cross_val import audit_out_of_fold

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_the_default_is_an_auditor_and_linear_and_cnn_are_there():
    assert DEFAULT_AUDITOR in AUDITORS
    assert {"linear", "cnn"} <= set(AUDITORS)
    assert all(name == a.name for name, a in AUDITORS.items())


@pytest.mark.parametrize("name", sorted(AUDITORS))
def test_each_auditor_builds_a_network_that_gives_logits(name):
    torch.manual_seed(0)
    model = AUDITORS[name].build(torch.device("cpu"))
    images = torch.rand(5, 28, 28)
    logits = model(images)
    assert logits.shape == (5, 10) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    # A model sees each image on its own: a row does not depend on the rest of the batch (in eval mode).
    model.eval()
    torch.testing.assert_close(model(images[:2]), model(images)[:2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(AUDITORS))
def test_each_recipe_is_a_json_serialisable_dataclass_seeded_by_the_run(name):
    auditor = AUDITORS[name]
    recipe = auditor.recipe_for(TrainConfig(seed=11))
    assert dataclasses.is_dataclass(auditor.recipe) and recipe.seed == 11
    assert json.loads(json.dumps(dataclasses.asdict(recipe)))["seed"] == 11


def test_the_linear_recipe_is_the_runs():
    cfg = TrainConfig(epochs=3, batch_size=128, lr=0.2, momentum=0.9, weight_decay=1e-4, schedule="one-cycle")
    recipe = AUDITORS["linear"].recipe_for(cfg)
    assert (recipe.epochs, recipe.batch_size, recipe.lr, recipe.momentum, recipe.weight_decay, recipe.schedule) == (
        3,
        128,
        0.2,
        0.9,
        1e-4,
        "one-cycle",
    )


@pytest.mark.parametrize("name", sorted(AUDITORS))
def test_each_auditor_gives_out_of_fold_probabilities_that_sum_to_one(name):
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, size=(300, 28, 28), dtype=np.uint8))
    labels = torch.from_numpy(np.arange(300) % 10)
    recipe = dataclasses.replace(AUDITORS[name].recipe, epochs=1, batch_size=64)
    oof = audit_out_of_fold(name, TrainConfig(), images, labels, k=3, progress=False, recipe=recipe)
    assert oof.probabilities.shape == (300, 10) and oof.probabilities.dtype == np.float32
    np.testing.assert_allclose(oof.probabilities.sum(axis=1), 1, rtol=1e-5)
    assert (oof.probabilities >= 0).all()
    assert oof.auditor == name and oof.seconds > 0


@pytest.mark.parametrize("name", sorted(AUDITORS))
def test_each_auditor_learns_an_easy_task(name):
    """Images whose label is where a bright stripe lies: a few epochs must beat chance by far, or
    the training hook is inert."""
    labels = torch.from_numpy(np.arange(400) % 10)
    images = torch.randint(0, 40, (400, 28, 28), generator=torch.Generator().manual_seed(0))
    for c in range(10):
        images[labels == c, 4 + 2 * c : 6 + 2 * c] = 255  # rows 4-5 for class 0 ... rows 22-23 for class 9
    images = images.to(torch.uint8)
    recipe = dataclasses.replace(AUDITORS[name].recipe, epochs=4, batch_size=32)
    oof = audit_out_of_fold(name, TrainConfig(), images, labels, k=2, progress=False, recipe=recipe)
    assert oof.accuracy > 0.5  # chance is 0.1
