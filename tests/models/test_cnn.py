"""The seeds' image models build, have the published parameter counts, and learn."""

import pytest
import torch
from torch import nn

from convrnn.models import MODELS, build_model

CLASSIFIERS = sorted(set(MODELS) - {"crnn", "fcn", "speech-recognizer"})


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_registered_classifier_maps_its_input_to_logits(name):
    imagenet = MODELS[name].input_shape == (3, 224, 224)    # seed 002's classic CNNs: shapes only, on meta
    with torch.device("meta" if imagenet else "cpu"):
        model, shape = build_model(name)
        logits = model.train(not imagenet)(torch.randn(3, *shape))
    classes = 2 if name == "keyword-spotter" else 1000 if imagenet else 10
    assert logits.shape == (3, classes)


def test_the_registered_line_reader_and_segmenter_give_per_column_and_per_pixel_scores():
    reader, shape = build_model("crnn")                    # (1, 32, 128): one step per 4 columns
    log_probs, lengths = reader(torch.randn(3, *shape))
    assert log_probs.shape == (3, 32, 11) and lengths.tolist() == [32, 32, 32]
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 32))
    segmenter, shape = build_model("fcn")
    assert segmenter(torch.randn(3, *shape)).shape == (3, 11, 64, 64)
    recognizer, shape = build_model("speech-recognizer")   # 1 s at 22,050 Hz: 25 CTC steps over 11 words + blank
    log_probs, lengths = recognizer.eval()(torch.randn(2, *shape))
    assert log_probs.shape == (2, 25, 12) and lengths.tolist() == [25, 25]


def test_lenet5_has_the_classic_parameter_count():
    model, _ = build_model("lenet5")
    # 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706 with full C3 connections
    assert sum(p.numel() for p in model.parameters()) == 61_706


def test_seed_cnn_overfits_a_small_batch():
    torch.manual_seed(0)
    model, shape = build_model("seed-cnn", dropout=0.0)
    x, y = torch.randn(16, *shape), torch.arange(16) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(40):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    assert (model(x).argmax(1) == y).all()


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown model 'vgg'; expected one of"):
        build_model("vgg")


def test_seed_cnn_refuses_sizes_not_divisible_by_four():
    with pytest.raises(ValueError, match=r"'image_size' expected sides divisible by 4, got \(30, 30\)"):
        build_model("seed-cnn", image_size=(30, 30))
