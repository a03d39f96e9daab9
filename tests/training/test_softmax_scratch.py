"""The from-scratch pieces against PyTorch's own (micrograd's habit), extreme logits included."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from training.softmax_scratch import SGD, SoftmaxRegressionScratch, cross_entropy, log_softmax, softmax


@pytest.fixture
def logits():
    torch.manual_seed(0)
    return torch.randn(64, 10) * 5


EXTREME = torch.tensor([[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4, -1e4 + 1], [1e4, 1e4, 1e4, 1e4]])


def test_softmax_matches_torch(logits):
    assert_close(softmax(logits), torch.softmax(logits, dim=1))
    assert_close(softmax(logits).sum(1), torch.ones(64))


def test_softmax_is_finite_and_correct_at_extremes():
    probs = softmax(EXTREME)
    assert torch.isfinite(probs).all()
    assert_close(probs, torch.softmax(EXTREME, dim=1))


def test_log_softmax_matches_torch_at_extremes():
    assert_close(log_softmax(EXTREME), torch.log_softmax(EXTREME, dim=1))


def test_cross_entropy_matches_torch(logits):
    y = torch.randint(0, 10, (64,))
    assert_close(cross_entropy(logits, y), F.cross_entropy(logits, y))


def test_cross_entropy_and_gradient_match_torch_at_extremes():
    y = torch.tensor([1, 0, 2])  # true class given -1e4 logit in row 0: loss 2e4, not inf
    ours = EXTREME.clone().requires_grad_()
    ref = EXTREME.clone().requires_grad_()
    loss, ref_loss = cross_entropy(ours, y), F.cross_entropy(ref, y)
    assert torch.isfinite(loss)
    assert_close(loss, ref_loss)
    loss.backward()
    ref_loss.backward()
    assert_close(ours.grad, ref.grad)


def test_cross_entropy_picks_true_class_as_the_seed_shows():
    # The seed's example: probabilities [[.1,.3,.6],[.3,.2,.5]], labels [0, 2] -> 1.4979.
    probs = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    assert_close(cross_entropy(torch.log(probs), torch.tensor([0, 2])), torch.tensor(1.4979), atol=1e-4, rtol=0)


def test_model_is_a_linear_map_with_seed_shapes():
    torch.manual_seed(0)
    model = SoftmaxRegressionScratch(sigma=0.01)
    assert model.W.shape == (784, 10) and model.b.shape == (10,)
    assert_close(model.b, torch.zeros(10))
    assert 0.008 < model.W.std().item() < 0.012
    X = torch.rand(5, 28, 28)
    assert_close(model(X), X.reshape(5, 784) @ model.W.detach() + model.b.detach())


@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 1e-3)])
def test_sgd_follows_torch_optim_sgd(momentum, weight_decay):
    torch.manual_seed(0)
    ours = [torch.randn(7, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    ref = [p.detach().clone().requires_grad_() for p in ours]
    opt = SGD(ours, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    ref_opt = torch.optim.SGD(ref, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    X = torch.randn(16, 7)
    for _ in range(5):
        for params, o in ((ours, opt), (ref, ref_opt)):
            o.zero_grad()
            ((X @ params[0] + params[1]) ** 2).mean().backward()
            o.step()
    for a, b in zip(ours, ref, strict=False):
        assert_close(a, b)
