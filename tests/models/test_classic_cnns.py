"""Seed 002's classic CNNs: torchvision's state-dict names and shapes, torchvision's outputs for the
same weights (recorded from torchvision 0.28.0's own modules, see tests/torchvision_reference.py), the
published parameter counts and receptive fields, and the small variants the recipes train."""

import json
import re

import pytest
import torch

from convrnn.inspect.summary import summary
from convrnn.models import MODELS, VGG, AlexNet, GoogLeNet, Inception, InceptionNet, ZFNet, build_model
from torchvision_reference import CASES, REFERENCE, example_input, fill, outputs

RECORDED = json.loads(REFERENCE.read_text())["models"]

# name → build_model options that make our module torchvision's case (dropout off where it trains)
OPTIONS = {"googlenet-aux": {"dropout": 0.0, "aux_dropout": 0.0}}
# filling a 130–144 M parameter VGG takes seconds: VGG-16 in CI, the others under -m slow
FAST = {"alexnet", "googlenet", "googlenet-aux", "vgg16"}


def meta_model(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        model, _ = build_model(name, **OPTIONS.get(name, {}))
    return model


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_names_and_shapes_are_torchvisions(name):
    ours = [[key, list(value.shape)] for key, value in meta_model(name).state_dict().items()]
    assert ours == RECORDED[name]["state_dict"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in sorted(CASES)])
def test_torchvisions_weights_give_torchvisions_outputs(name):
    case = RECORDED[name]
    model = meta_model(name).to_empty(device="cpu")    # no initialisation: fill writes every entry
    fill(model)
    got = outputs(model, case["side"], case["training"])
    assert len(got) == len(case["outputs"])
    for out, want in zip(got, case["outputs"], strict=True):
        norm = torch.tensor(want["norm"])
        torch.testing.assert_close(out[:, :len(want["first"][0])], torch.tensor(want["first"]),
                                   rtol=0, atol=float(norm.max()) * 2e-5)
        torch.testing.assert_close(out.sum(1), torch.tensor(want["sum"]), rtol=0, atol=float(norm.max()) * 1e-4)
        torch.testing.assert_close(out.norm(dim=1), norm, rtol=2e-5, atol=0)


def test_a_changed_layer_no_longer_gives_torchvisions_outputs():
    """The comparison can fail: AlexNet with its third max-pool of stride 3 instead of 2."""
    case = RECORDED["alexnet"]
    model, _ = build_model("alexnet")
    model.features[12].stride = (3, 3)
    fill(model)
    (out,) = outputs(model, case["side"], case["training"])
    assert not torch.allclose(out.norm(dim=1), torch.tensor(case["outputs"][0]["norm"]), rtol=1e-3)


# published parameter counts: torchvision's docs (AlexNet, VGG, GoogLeNet), ZFNet from its Fig. 3
# (conv 96·7·7·3 + 96, 256·5·5·96 + 256, 384·3·3·256 + 384, 384·3·3·384 + 384, 256·3·3·384 + 256,
# FC 9216·4096 + 4096, 4096·4096 + 4096, 4096·1000 + 1000); receptive fields of the last
# convolutional stage by hand with r ← r + (k − 1)·j, j ← j·s (AlexNet 195 and VGG-16 212 as
# Araujo et al., "Computing receptive fields of convolutional neural networks", Distill 2019)
PUBLISHED = {
    "alexnet": (61_100_840, 195),
    "zfnet": (62_357_608, 171),
    "vgg11": (132_863_336, 150),
    "vgg11-bn": (132_868_840, 150),
    "vgg13": (133_047_848, 156),
    "vgg13-bn": (133_053_736, 156),
    "vgg16": (138_357_544, 212),
    "vgg16-bn": (138_365_992, 212),
    "vgg19": (143_667_240, 268),
    "vgg19-bn": (143_678_248, 268),
    # conv1 7 → pool 11 → conv3 19 → pool 27 (j 8) → 3a, 3b +16 each → pool 75 (j 16) → 4a–4e +32 each
    # → pool 251 (j 32) → 5a, 5b +64 each = 379
    "googlenet": (6_624_904, 379),
    "googlenet-aux": (13_004_888, 379),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_summary_at_224_gives_the_published_parameters_and_receptive_field(name):
    count, field = PUBLISHED[name]
    model = meta_model(name)
    assert MODELS[name].input_shape == (3, 224, 224)
    table = summary(model, MODELS[name].input_shape, device="meta")
    assert table.total_params == count
    spatial = [row for row in table.rows if row.receptive]
    assert spatial[-1].receptive == (field, field)


def test_googlenet_with_the_papers_5x5_branches_sees_wider():
    """The paper's 5×5 third branch: each Inception block adds 4 jumps, not 2 — 699 (by hand as above)."""
    with torch.device("meta"):
        model = GoogLeNet(wide_kernel=5)
    table = summary(model, (3, 224, 224), device="meta")
    assert table.total_params == 7_005_832
    assert [row for row in table.rows if row.receptive][-1].receptive == (699, 699)


def test_summary_cli_names_the_classic_cnns(capsys):
    from convrnn.cli import main

    assert main(["summary", "alexnet"]) == 0
    out = capsys.readouterr().out
    assert "input 3×224×224 · 61,100,840 parameters · 714,188,480 multiply-adds per sample" in out
    assert re.search(r"\nfeatures\.0 +Conv2d +64×55×55 +64×11×11×3 \+ 64 = 23,296 +70,276,800 +11×11\n", out)
    assert re.search(r"\nfeatures\.12 +Pool2d +256×6×6 +— +— +195×195\n", out)
    assert main(["summary", "--list"]) == 0
    listed = capsys.readouterr().out
    for name in ("alexnet", "zfnet", "vgg11", "vgg16-bn", "vgg19", "googlenet", "googlenet-aux"):
        assert f"\n{name} " in listed


def test_zfnet_has_the_papers_feature_map_sizes():
    model = ZFNet()
    sizes = []
    x = torch.zeros(1, 3, 224, 224)
    for layer in model.features:
        x = layer(x)
        if not isinstance(layer, torch.nn.ReLU):
            sizes.append(x.shape[-1])
    assert sizes == [110, 55, 26, 13, 13, 13, 13, 6]
    assert model(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)
    with pytest.raises(ValueError, match=r"ZFNet: argument 'x' expected images whose last feature map is 256×6×6"):
        model(torch.zeros(1, 3, 160, 160))


def test_googlenet_returns_its_auxiliary_logits_only_while_training():
    model = GoogLeNet(classes=7, aux_logits=True)
    x = torch.randn(2, 3, 64, 64)
    logits, aux2, aux1 = model.train()(x)
    assert logits.shape == aux2.shape == aux1.shape == (2, 7)
    assert model.eval()(x).shape == (2, 7)
    assert GoogLeNet(classes=7).train()(x).shape == (2, 7)


def test_inception_concatenates_its_four_branches_in_order():
    block = Inception(8, 2, 3, 4, 1, 5, 6)
    x = torch.randn(2, 8, 9, 9)
    y = block.eval()(x)
    assert y.shape == (2, 2 + 4 + 5 + 6, 9, 9) and block.out_channels == 17
    parts = [block.branch1(x), block.branch2(x), block.branch3(x), block.branch4(x)]
    torch.testing.assert_close(y, torch.cat(parts, 1))


@pytest.mark.parametrize("name", ["vgg-small", "inception-small"])
def test_the_recipes_small_variants_classify_fashion_mnist_sized_images(name):
    model, shape = build_model(name)
    assert shape == (1, 28, 28)
    assert model(torch.randn(3, *shape)).shape == (3, 10)


def test_small_sizes_are_stated():
    assert summary(build_model("vgg-small")[0], (1, 28, 28)).total_params == 288_314
    assert summary(build_model("inception-small")[0], (1, 28, 28)).total_params == 75_218


@pytest.mark.parametrize(("build", "message"), [
    (lambda: VGG(12), r"VGG: argument 'layers' expected a depth in \[11, 13, 16, 19\]"),
    (lambda: VGG((64, "X")), r"VGG: argument 'layers' expected ints ≥ 1 and 'M', got 'X'"),
    (lambda: VGG(("M",)), r"VGG: argument 'layers' expected a sequence .* at least one convolution"),
    (lambda: VGG(11, hidden=0), r"VGG: argument 'hidden' expected an int ≥ 1, got 0"),
    (lambda: AlexNet(classes=0), r"AlexNet: argument 'classes' expected an int ≥ 1, got 0"),
    (lambda: AlexNet(dropout=1.0), r"AlexNet: argument 'dropout' expected a float in \[0, 1\), got 1.0"),
    (lambda: GoogLeNet(wide_kernel=7), r"Inception: argument 'wide_kernel' expected 3 or 5, got 7"),
    (lambda: InceptionNet(blocks=((1, 2, 3),)), r"InceptionNet: argument 'blocks' expected 'M' or 6 channel"),
])
def test_bad_options_are_refused_by_name(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_reference_input_is_the_recorded_one():
    """The recorded outputs are for these pixels: seed 0 draws them the same on every run."""
    torch.testing.assert_close(example_input(4), example_input(4))
    assert example_input(4).shape == (2, 3, 4, 4)
