"""The CRNN reader: shapes and lengths, padding never changes a result, bad input, and it learns strings."""

import numpy as np
import pytest
import torch

from convrnn.data.digit_strings import DigitStrings, collate_digit_strings
from convrnn.layers.ctc import CTCLoss, ctc_greedy_decode
from convrnn.models.ocr import CRNN


def tiny_reader(**options):
    return CRNN(**{"height": 16, "channels": (8, 16), "hidden": 16, "layers": 1, "dropout": 0.0, **options})


def test_time_steps_are_the_columns_left_after_the_width_pools():
    model = CRNN().eval()
    log_probs, lengths = model(torch.rand(3, 1, 32, 101), torch.tensor([101, 64, 7]))
    assert log_probs.shape == (3, 25, 11)
    assert lengths.tolist() == [25, 16, 1]
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 25))
    one_pool = tiny_reader(width_pools=1).eval()
    assert one_pool(torch.rand(2, 1, 16, 20))[0].shape == (2, 10, 11)


def test_padding_a_batch_never_changes_a_result_in_eval_mode():
    model = CRNN(channels=(8, 16, 16, 16), hidden=16).eval()
    for module in model.modules():  # trained-looking batch norm statistics, not the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    images = [torch.rand(1, 1, 32, width) for width in (37, 80, 12)]
    with torch.no_grad():
        alone = [model(image)[0][0] for image in images]
        padded = torch.zeros(3, 1, 32, 80)
        for row, image in enumerate(images):
            padded[row, :, :, :image.shape[-1]] = image
        together, lengths = model(padded, torch.tensor([37, 80, 12]))
    for row, single in enumerate(alone):
        assert lengths[row] == single.shape[0]
        torch.testing.assert_close(together[row, :lengths[row]], single, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("call", "message"), [
    (lambda m: m(torch.rand(2, 1, 20, 40)), "argument 'images' expected (N, 1, 16, W)"),
    (lambda m: m(torch.rand(2, 1, 16, 40), torch.tensor([40, 41])), "argument 'widths' expected 2 widths in [1, 40]"),
    (lambda m: m(torch.rand(2, 1, 16, 40), torch.tensor([40, 3])), "at least 4 columns wide"),
    (lambda m: CRNN(height=20, channels=(8, 8, 8)), "argument 'height' expected a multiple of 2^3"),
    (lambda m: CRNN(channels=()), "argument 'channels' expected one int ≥ 1 per stage"),
])
def test_bad_input_names_the_argument(call, message):
    model = tiny_reader().eval()
    with pytest.raises(ValueError) as error:
        call(model)
    assert message in str(error.value)


def test_a_small_reader_learns_a_few_strings():
    rng = np.random.default_rng(0)
    patterns = (rng.random((10, 28, 28)) > 0.6).astype(np.uint8) * 255  # one fixed random glyph per digit
    strings = DigitStrings("train", 12, seed=0, height=16, digits=(1, 4), scale=(0.5, 0.55), gap=(0, 2),
                           source=(patterns, np.arange(10)))
    batch = collate_digit_strings([strings[i] for i in range(len(strings))])
    torch.manual_seed(0)
    model = tiny_reader(hidden=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = CTCLoss()
    for _ in range(200):
        log_probs, lengths = model(batch["images"], batch["widths"])
        value = loss(log_probs, lengths, (batch["targets"] + 1).clamp_min(0), batch["target_lengths"])
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        log_probs, lengths = model(batch["images"], batch["widths"])
    read = [[s - 1 for s in symbols] for symbols in ctc_greedy_decode(log_probs, lengths)]
    assert read == [strings.labels(i) for i in range(len(strings))]
