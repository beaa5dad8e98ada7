"""The seeds' networks, and a registry so the CLI can build any of them by name.

``build_model(name, **options) -> (model, input_shape)``; ``input_shape`` excludes the batch axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from convrnn.models.alexnet import AlexNet, ZFNet
from convrnn.models.cnn import LeNet5, SeedCNN
from convrnn.models.fcn import FCN
from convrnn.models.googlenet import GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux, InceptionNet
from convrnn.models.keyword_spotter import KeywordSpotter
from convrnn.models.mlp import MLP
from convrnn.models.ocr import CRNN
from convrnn.models.resnet import ResNet
from convrnn.models.seq2seq import Decoded, Seq2Seq
from convrnn.models.speech_recognizer import SpeechRecognizer
from convrnn.models.vgg import VGG, VGG_CONFIGS
from convrnn.models.word2vec import (
    Word2Vec,
    Word2VecSettings,
    WordVectors,
    WordVocabulary,
    embedding_from_vectors,
    load_word2vec_format,
    save_word2vec_format,
    train_word2vec,
)


@dataclass(frozen=True)
class ModelEntry:
    """How to build a registered model: a constructor, its default options and its input shape."""

    build: Callable[..., nn.Module]
    input_shape: tuple[int, ...]
    description: str
    options: dict[str, object]


MODELS: dict[str, ModelEntry] = {
    "seed-cnn": ModelEntry(SeedCNN, (1, 28, 28), "2×(conv 5×5 + ReLU + max-pool) + FC 128 + softmax (seed 001)", {}),
    "lenet5": ModelEntry(LeNet5, (1, 28, 28), "LeNet-5 (LeCun et al., 1998), tanh + average pooling", {}),
    "resnet": ModelEntry(ResNet, (1, 28, 28), "small ResNet: 3 stages of 2 basic blocks, batch norm", {}),
    "keyword-spotter": ModelEntry(KeywordSpotter, (1, 33_075), "1-D CNN over log-mel frames, global max over time",
                                  {}),
    "fcn": ModelEntry(FCN, (1, 64, 64), "fully convolutional segmentation net: strided convs down, "
                                        "transposed convs up, additive skips (FCN)", {"channels": (16, 32, 64, 128)}),
    "crnn": ModelEntry(CRNN, (1, 32, 128), "CNN → columns as time → BiLSTM → CTC (CRNN, Shi et al. 2015)", {}),
    "speech-recognizer": ModelEntry(SpeechRecognizer, (1, 22_050), "log-mel → CNN → BiLSTM → CTC over words "
                                    "(speech recognition)", {}),
    "digits-cnn": ModelEntry(SeedCNN, (1, 8, 8), "the seed CNN sized for sklearn's 8×8 digits",
                             {"image_size": (8, 8), "channels": (16, 32), "kernel_size": 3, "hidden": 64}),
    # seed 002's classic CNNs at their published size (ImageNet, 224×224×3, 1000 classes)
    "alexnet": ModelEntry(AlexNet, (3, 224, 224), "AlexNet, torchvision's single-tower form (61.1 M)", {}),
    "zfnet": ModelEntry(ZFNet, (3, 224, 224), "ZFNet (Zeiler & Fergus 2013), 7×7/2 first layer (62.4 M)", {}),
    **{f"vgg{depth}{'-bn' if bn else ''}": ModelEntry(
        VGG, (3, 224, 224), f"VGG-{depth} (Simonyan & Zisserman 2014){' with batch norm' if bn else ''}",
        {"layers": depth, "batch_norm": bn}) for depth in VGG_CONFIGS for bn in (False, True)},
    "googlenet": ModelEntry(GoogLeNet, (3, 224, 224), "GoogLeNet / Inception v1 as torchvision (6.6 M)", {}),
    "googlenet-aux": ModelEntry(GoogLeNet, (3, 224, 224), "GoogLeNet with its two auxiliary classifiers (13.0 M)",
                                {"aux_logits": True}),
    # their small-image forms, for the Fashion-MNIST recipes
    "vgg-small": ModelEntry(VGG, (1, 28, 28), "VGG for 28×28: 3 × (2 × conv 3×3 + BN + max-pool), FC 256-256",
                            {"layers": (16, 16, "M", 32, 32, "M", 64, 64, "M"), "in_channels": 1, "classes": 10,
                             "batch_norm": True, "hidden": 256, "pooled": 3}),
    "inception-small": ModelEntry(InceptionNet, (1, 28, 28), "GoogLeNet for 28×28: 3×3 stem, 4 Inception blocks, "
                                  "global average pool", {}),
}


def build_model(name: str, **options: object) -> tuple[nn.Module, tuple[int, ...]]:
    """Build the model registered as ``name`` with its defaults updated by ``options``."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    entry = MODELS[name]
    return entry.build(**{**entry.options, **options}), entry.input_shape


__all__ = [
    "CRNN",
    "FCN",
    "MLP",
    "MODELS",
    "VGG",
    "VGG_CONFIGS",
    "AlexNet",
    "Decoded",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "Inception",
    "InceptionAux",
    "InceptionNet",
    "KeywordSpotter",
    "LeNet5",
    "ModelEntry",
    "ResNet",
    "SeedCNN",
    "Seq2Seq",
    "SpeechRecognizer",
    "Word2Vec",
    "Word2VecSettings",
    "WordVectors",
    "WordVocabulary",
    "ZFNet",
    "build_model",
    "embedding_from_vectors",
    "load_word2vec_format",
    "save_word2vec_format",
    "train_word2vec",
]
