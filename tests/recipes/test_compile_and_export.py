"""Every recipe's network under torch.compile (fullgraph) gives eager's outputs and gradients, and
every exportable one exports with its task's dynamic axes (``Task.export_signature``) to a
``torch.export`` program that equals eager at sizes never seen at export. (Trained runs exported
to ONNX and .pt2 predict like their run directories: each recipe kind's own test file.)"""

import pytest
import torch
from torch.utils import _pytree as pytree

from convrnn.export import ExportedModel, export_model
from convrnn.recipes import RECIPE_NAMES, get_recipe
from convrnn.tasks.sequence import TokenInput
from deploy_cases import IN_CI, NOT_COMPILED, NOT_EXPORTABLE, export_config


def network_and_input(name):
    model, shape = get_recipe(name).summary_model()
    torch.manual_seed(0)
    tokens = isinstance(model, TokenInput) or name in ("brown-pos", "g2p")
    x = torch.randint(1, 30, (2, *shape)) if tokens else torch.randn(2, *shape)
    return model, x


def marked(names):
    return [pytest.param(n, marks=() if n in IN_CI else pytest.mark.slow) for n in names]


def test_every_recipe_declares_export_or_says_why_not():
    for name in RECIPE_NAMES:
        assert get_recipe(name).can("export") != (name in NOT_EXPORTABLE), name


@pytest.mark.parametrize("name", marked(sorted(set(RECIPE_NAMES) - set(NOT_COMPILED))))
def test_recipe_network_compiles_whole_with_eager_outputs_and_gradients(name):
    model, x = network_and_input(name)
    model.eval()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    outputs = []
    for run in (model, compiled):
        model.zero_grad()
        out = run(x)
        torch.stack([leaf.float().sum() for leaf in pytree.tree_leaves(out) if leaf.is_floating_point()]).sum().backward()
        outputs.append((out, [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (eager, eager_grads), (got, got_grads) = outputs
    for a, b in zip(pytree.tree_leaves(eager), pytree.tree_leaves(got), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    assert len(got_grads) == len(eager_grads) > 0
    for a, b in zip(eager_grads, got_grads, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    torch._dynamo.reset()


@pytest.mark.parametrize("name", marked(sorted(set(RECIPE_NAMES) - set(NOT_EXPORTABLE))))
def test_recipe_network_exports_with_its_dynamic_axes_and_equals_eager_at_unseen_sizes(name, tmp_path):
    recipe = get_recipe(name)
    model, x = network_and_input(name)
    network = getattr(model, "model", None) or getattr(model, "tagger", None) or model
    signature = recipe.export_signature(network.eval(), export_config(x.shape[1:]))
    module = signature.module or network
    path = tmp_path / ("model.onnx" if "pt2" in signature.refused else "model.pt2")   # the CRNN: ONNX only
    export_model(module, signature.args, path, dynamic=signature.dynamic, names=signature.names,
                 minimums=signature.minimums)
    loaded = ExportedModel(path)
    for batch, grow in [(1, 3), (3, 11)]:
        args = []
        for example, input_name in zip(signature.args, signature.names, strict=True):
            shape = list(example.shape)
            for axis, axis_name in enumerate(signature.dynamic[input_name]):
                if axis_name == "N":
                    shape[axis] = batch
                elif axis_name is not None:
                    shape[axis] = max(shape[axis] + grow, signature.minimums.get(axis_name, 1))
            generator = torch.Generator().manual_seed(batch)
            args.append(torch.randn(shape, generator=generator) if example.is_floating_point()
                        else torch.randint(1, 20, shape, generator=generator))
        with torch.no_grad():
            want = module(*args)
        for a, b in zip(pytree.tree_leaves(want), pytree.tree_leaves(loaded(*args)), strict=True):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
