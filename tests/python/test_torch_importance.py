"""reds.torch.gradient_importance and l1_importance (python/reds/_torch_importance.py): the reference's
gradient score against the same sums computed by hand, and what it leaves as it was."""

from __future__ import annotations

import copy
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import reds  # noqa: E402
import reds.torch  # noqa: E402
from torch_models import MODELS, randomised  # noqa: E402


def minibatches(count: int, shape: tuple[int, ...]) -> list[tuple[Any, Any]]:
    generator = torch.Generator().manual_seed(5)
    return [(torch.rand(4, *shape[1:], generator=generator), torch.randint(0, 10, (4,), generator=generator))
            for _ in range(count)]


def by_hand(module: Any, batches: list[tuple[Any, Any]], names: list[str]) -> dict[str, list[float]]:
    """|W * sum_b dL_b/dW| summed per output unit, with .backward() on a copy in training mode."""
    module = copy.deepcopy(module).train()
    torch.manual_seed(11)  # the same dropout masks as the call it is compared with
    submodules = dict(module.named_modules())
    for inputs, labels in batches:
        torch.nn.functional.cross_entropy(module(inputs), labels).backward()  # .grad accumulates the sum
    scores = {}
    for name in names:
        weight = submodules[name].weight
        scores[name] = (weight * weight.grad).abs().sum(dim=tuple(range(1, weight.dim()))).tolist()
    return scores


@pytest.mark.parametrize("model", ["small_cnn", "resnet8", "mobilenet_v2"])
def test_gradient_importance_is_the_references_score(model: str) -> None:
    build, shape = MODELS[model]
    module = randomised(build())
    batches = minibatches(3, shape)
    request = reds.torch.plan_request(module, batches[0][0][:1])
    names = [layer["name"] for layer in request["network"]["layers"]]

    torch.manual_seed(11)
    scores = reds.torch.gradient_importance(module, batches, batches=3)

    assert list(scores) == names
    expected = by_hand(module, batches, names)
    for name in names:
        assert scores[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-9), name
    # The scores plan: they are the request's importance.
    request = reds.torch.plan_request(module, batches[0][0][:1], importance=scores)
    assert request["network"]["layers"][1]["importance"] == scores[names[1]]
    reds.validate(request)


def test_gradient_importance_wraps_the_data_and_leaves_the_module_as_it_was() -> None:
    build, shape = MODELS["resnet8"]
    module = randomised(build())
    state = copy.deepcopy(module.state_dict())
    batches = minibatches(2, shape)
    # Five minibatches of a two-batch loader: 1, 2, 1, 2, 1.
    scores = reds.torch.gradient_importance(module, batches, batches=5)
    expected = by_hand(module, [batches[0], batches[1], batches[0], batches[1], batches[0]], list(scores))
    for name in scores:
        assert scores[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-9), name
    assert not module.training
    for name, value in module.state_dict().items():
        assert torch.equal(value, state[name]), name  # batch-norm statistics too
    assert all(parameter.grad is None for parameter in module.parameters())

    with pytest.raises(reds.InvalidArgumentError, match="no minibatch"):
        reds.torch.gradient_importance(module, [], batches=1)


def test_l1_importance_is_the_requests_default() -> None:
    build, shape = MODELS["resnet8"]
    module = randomised(build())
    example = torch.rand(*shape)
    scores = reds.torch.l1_importance(module, example)
    request = reds.torch.plan_request(module, example)
    assert {layer["name"]: layer["importance"] for layer in request["network"]["layers"]} == scores
