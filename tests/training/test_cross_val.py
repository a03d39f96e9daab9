"""K-fold out-of-fold probabilities: folds that are disjoint, complete, stratified and seeded, and
probabilities for every image from a model that never trained on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training import cross_val, softmax_concise, softmax_scratch
from training.auditors import AUDITORS
from training.auditors.auditor import Auditor
from training.auditors.cnn import CNNRecipe
from training.auditors.linear import LinearRecipe
from training.config import TrainConfig
from training.cross_val import audit_out_of_fold, out_of_fold, stratified_folds
from training.errors import TrainingError

# These models are tiny: see the fixture for why one thread.
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def uneven_labels(seed: int = 0) -> np.ndarray:
    """10 classes of 23..113 images each, shuffled: sizes no fold count divides evenly."""
    counts = 23 + 10 * np.arange(10)
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(10), counts))


@pytest.mark.parametrize("k", [2, 3, 5, 7])
def test_folds_are_disjoint_cover_the_split_and_are_stratified(k):
    labels = uneven_labels()
    folds = stratified_folds(labels, k, seed=1)
    assert folds.shape == labels.shape
    assert set(np.unique(folds)) == set(range(k))  # one fold id per image: disjoint and covering
    sizes = np.bincount(folds, minlength=k)
    assert sizes.max() - sizes.min() <= 1
    for c in range(10):
        per_fold = np.bincount(folds[labels == c], minlength=k)
        n = (labels == c).sum()
        assert set(per_fold) <= {n // k, n // k + 1}, f"class {c} split {per_fold} over {k} folds"


def test_folds_are_seeded():
    labels = uneven_labels()
    np.testing.assert_array_equal(stratified_folds(labels, 5, seed=3), stratified_folds(labels, 5, seed=3))
    assert not np.array_equal(stratified_folds(labels, 5, seed=3), stratified_folds(labels, 5, seed=4))


@pytest.mark.parametrize("k", [0, 1, 24])
def test_impossible_fold_counts_are_refused_with_the_limit(k):
    with pytest.raises(TrainingError, match=r"--cross-val .*smallest class has 23 images; use 2 <= K <= 23"):
        stratified_folds(uneven_labels(), k, seed=1)


def index_images(n: int, seed: int = 0) -> torch.Tensor:
    """Random images whose first two pixels spell their own index, so a spy can tell which it got."""
    images = np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = np.arange(n) // 256, np.arange(n) % 256
    return torch.from_numpy(images)


def indices_of(images: torch.Tensor) -> set[int]:
    pixels = images[:, 0, :2].to(torch.int64)
    return set((pixels[:, 0] * 256 + pixels[:, 1]).tolist())


@pytest.mark.parametrize("build", [softmax_concise.build, softmax_scratch.build], ids=["concise", "scratch"])
def test_no_image_is_scored_by_a_model_that_trained_on_it(monkeypatch, build):
    """Spies on what each fold model is trained on and what it scores, by the images themselves
    (keyed by the model objects, which also keeps them alive so no two share an identity)."""
    trained_on, scored = {}, {}
    real_fit, real_predict = cross_val.fit, cross_val.predict_probabilities

    def spy_fit(model, loss_fn, optimizer, split, cfg, **kw):
        trained_on[model] = indices_of(split.train_images)
        return real_fit(model, loss_fn, optimizer, split, cfg, **kw)

    def spy_predict(model, images):
        probs = real_predict(model, images)
        scored[model] = (sorted(indices_of(images)), probs)
        return probs

    monkeypatch.setattr(cross_val, "fit", spy_fit)
    monkeypatch.setattr(cross_val, "predict_probabilities", spy_predict)
    n, labels = 600, torch.from_numpy(np.arange(600) % 10)
    oof = out_of_fold(build, TrainConfig(epochs=2, batch_size=64), index_images(n), labels, k=4, progress=False)

    assert len(trained_on) == len(scored) == 4
    seen = []
    for model, (indices, probs) in scored.items():
        assert not set(indices) & trained_on[model], "a fold model scored an image it trained on"
        assert len(trained_on[model]) + len(indices) == n
        np.testing.assert_array_equal(oof.probabilities[indices], probs)  # the rows came from this model
        assert len(set(oof.folds[indices])) == 1  # the fold assignment returned names the held-out fold
        seen += indices
    assert sorted(seen) == list(range(n))  # every image scored exactly once
    np.testing.assert_allclose(oof.probabilities.sum(axis=1), 1, rtol=1e-5)
    assert len(oof.fold_accuracy) == 4


@pytest.mark.slow
def test_real_images_get_useful_out_of_fold_probabilities(fashion_dir):
    from inference.core.fashion_mnist import load_split

    split = load_split("train", fashion_dir)
    images, labels = torch.from_numpy(split.images[:3000]), torch.from_numpy(split.labels[:3000])
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.05)
    oof = out_of_fold(softmax_concise.build, cfg, images, labels, k=3, progress=False)
    accuracy = (oof.probabilities.argmax(axis=1) == labels.numpy()).mean()
    # 2000 training images per fold: 0.74-0.76 over seeds 1-3; chance is 0.1.
    assert accuracy > 0.65
    np.testing.assert_allclose(
        oof.fold_accuracy,
        [(oof.probabilities.argmax(1) == labels.numpy())[oof.folds == f].mean() for f in range(3)],
        atol=1e-6,
    )


def test_a_diverging_fold_names_the_fold():
    images = index_images(200)
    with pytest.raises(TrainingError, match=r"^cross-validation fold 1 of 2: .*lower --lr"):
        out_of_fold(
            softmax_concise.build,
            TrainConfig(epochs=2, batch_size=16, lr=1e30),
            images,
            torch.from_numpy(np.arange(200) % 10),
            k=2,
            progress=False,
        )


# One epoch on a few hundred images: enough to check where every image went, not how well.
TINY_RECIPES = {"linear": LinearRecipe(epochs=1, batch_size=64), "cnn": CNNRecipe(epochs=1, batch_size=64)}


@pytest.mark.parametrize("auditor", sorted(AUDITORS))
def test_no_image_is_scored_by_an_auditor_that_trained_on_it(monkeypatch, auditor):
    """Spies on the fold models themselves: a hook on every model the auditor builds records each
    image its forward pass sees, in training mode (trained on) or eval mode (scored), whatever
    loop or seam fed it."""
    trained_on, scored = {}, {}
    real_build = Auditor.build

    def spy_build(self, device):
        model = real_build(self, device)
        trained_on[model], scored[model] = set(), []

        def record(module, args):
            pixels = (args[0] * 255).round().to(torch.uint8)  # the batch step scaled them to [0, 1]
            if module.training:
                trained_on[module] |= indices_of(pixels)
            else:
                scored[module] += sorted(indices_of(pixels))

        model.register_forward_pre_hook(record)
        return model

    monkeypatch.setattr(Auditor, "build", spy_build)
    n, labels = 400, torch.from_numpy(np.arange(400) % 10)
    oof = audit_out_of_fold(
        auditor, TrainConfig(), index_images(n), labels, k=4, progress=False, recipe=TINY_RECIPES[auditor]
    )

    assert len(trained_on) == len(scored) == 4
    seen = []
    for model, indices in scored.items():
        assert not set(indices) & trained_on[model], "a fold's auditor scored an image it trained on"
        assert len(trained_on[model]) + len(indices) == n  # trained on every image outside its fold
        assert len(set(oof.folds[indices])) == 1  # and scored exactly one fold
        seen += indices
    assert sorted(seen) == list(range(n))  # every image scored exactly once
    np.testing.assert_allclose(oof.probabilities.sum(axis=1), 1, rtol=1e-5)
    assert oof.auditor == auditor and oof.recipe["epochs"] == 1 and len(oof.fold_accuracy) == 4
    expected = (oof.probabilities.argmax(axis=1) == labels.numpy()).mean()
    assert oof.accuracy == pytest.approx(expected)


def test_the_linear_auditor_is_what_out_of_fold_trained():
    """linear audits with the run's recipe: the same probabilities the concise variant's folds gave."""
    images, labels = index_images(300, seed=2), torch.from_numpy(np.arange(300) % 10)
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, momentum=0.5, schedule="one-cycle", seed=3)
    audited = audit_out_of_fold("linear", cfg, images, labels, k=3, progress=False)
    before = out_of_fold(softmax_concise.build, cfg, images, labels, k=3, progress=False)
    np.testing.assert_allclose(audited.probabilities, before.probabilities, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(audited.folds, before.folds)
    assert audited.recipe["lr"] == 0.05 and audited.recipe["seed"] == 3


def test_other_auditors_take_their_own_recipe_with_the_runs_seed():
    images, labels = index_images(200), torch.from_numpy(np.arange(200) % 10)
    cfg = TrainConfig(epochs=1, batch_size=16, lr=1e30, seed=7)  # the linear recipe would diverge
    recipe = AUDITORS["cnn"].recipe_for(cfg)
    assert recipe.seed == 7 and recipe.lr == AUDITORS["cnn"].recipe.lr
    oof = audit_out_of_fold("cnn", cfg, images, labels, k=2, progress=False, recipe=CNNRecipe(epochs=1, seed=7))
    assert oof.recipe["seed"] == 7
    np.testing.assert_array_equal(oof.folds, stratified_folds(labels.numpy(), 2, seed=7))


def test_audits_are_reproducible():
    images, labels = index_images(200), torch.from_numpy(np.arange(200) % 10)
    runs = [
        audit_out_of_fold(
            "cnn", TrainConfig(), images, labels, k=2, progress=False, recipe=CNNRecipe(epochs=1, batch_size=50)
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].probabilities, runs[1].probabilities)


def test_an_unknown_auditor_names_the_choices():
    with pytest.raises(TrainingError, match=r"^unknown auditor 'resnet'; expected one of linear, cnn$"):
        audit_out_of_fold("resnet", TrainConfig(), index_images(40), torch.from_numpy(np.arange(40) % 10), k=2)


def test_a_diverging_auditor_fold_names_the_fold_and_the_auditor():
    images = index_images(200)
    with pytest.raises(TrainingError, match=r"^cross-validation fold 1 of 2 \(linear auditor\): .*lower --lr"):
        audit_out_of_fold(
            "linear",
            TrainConfig(epochs=2, batch_size=16, lr=1e30),
            images,
            torch.from_numpy(np.arange(200) % 10),
            k=2,
            progress=False,
        )
