"""Images: grids put each map where it belongs, colours follow the scale, PNGs decode."""

import struct
import zlib

import numpy as np
import pytest
import torch
from torch import nn

from convrnn.inspect import layer_stats
from convrnn.inspect.images import (
    feature_maps,
    filter_grid,
    layer_panel,
    matched_filter,
    plot_matched_filter,
    png,
    save_png,
    tile,
)
from convrnn.layers import Conv2d


def _decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    rows = [raw[r * (3 * width + 1) + 1:(r + 1) * (3 * width + 1)] for r in range(height)]
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, 3)


def test_tile_places_maps_on_one_grey_scale():
    maps = np.stack([np.zeros((2, 3)), np.full((2, 3), 2.0), np.full((2, 3), 1.0)])
    grid = tile(maps, columns=2)
    assert grid.shape == (2 * 2 + 1, 2 * 3 + 1, 3)
    assert (grid[0, 0] == 0).all() and (grid[0, 4] == 255).all() and (grid[3, 0] == 128).all()
    assert tuple(grid[2, 0]) == (235, 235, 235)        # the padding row


def test_signed_scale_is_white_at_zero():
    grid = tile(np.array([[[-2.0, 0.0, 2.0]]]), signed=True)
    assert tuple(grid[0, 0]) == (0, 0, 255) and tuple(grid[0, 1]) == (255, 255, 255)
    assert tuple(grid[0, 2]) == (255, 0, 0)


def test_png_round_trips_and_zooms(tmp_path):
    rgb = (np.arange(2 * 3 * 3) * 9).astype(np.uint8).reshape(2, 3, 3)
    np.testing.assert_array_equal(_decode_png(png(rgb, zoom=1)), rgb)
    np.testing.assert_array_equal(_decode_png(png(rgb, zoom=2)), rgb.repeat(2, 0).repeat(2, 1))
    path = save_png(tmp_path / "a.png", rgb, zoom=1)
    assert path.read_bytes() == png(rgb, zoom=1) and [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_filter_grid_shapes():
    assert filter_grid(torch.randn(8, 1, 5, 5)).shape == (3 * 6 - 1, 3 * 6 - 1, 3)
    assert filter_grid(torch.randn(4, 3, 5, 5)).shape == (2 * 6 - 1, 2 * 6 - 1, 3)
    assert filter_grid(torch.randn(4, 2, 3, 3)).shape == (4 * 4 - 1, 2 * 4 - 1, 3)
    assert filter_grid(torch.randn(4, 1, 7)).shape == (2 * 2 - 1, 2 * 8 - 1, 3)
    with pytest.raises(ValueError, match="'weight' expected a 3 or 4-d"):
        filter_grid(torch.randn(4, 4))


def test_feature_maps_and_the_convnetjs_panel():
    torch.manual_seed(0)
    model = nn.Sequential(Conv2d(1, 8, 5), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 3))
    x = torch.randn(2, 1, 8, 8)
    maps = feature_maps(model, x)
    assert list(maps) == ["0"] and maps["0"].shape == (8, 4, 4)
    torch.testing.assert_close(maps["0"], model[0](x[:1])[0])
    table = layer_stats(model, (x, torch.tensor([0, 2])))
    panel = layer_panel(table.rows[0], model[0])
    assert set(panel) == {"activations", "activation gradients", "weights", "weight gradients"}
    assert panel["weights"].shape == filter_grid(model[0].weight).shape


def test_matched_filter_peaks_where_the_template_hides():
    rng = np.random.default_rng(0)
    template = np.sin(np.linspace(0, 3 * np.pi, 20))
    signal = 0.3 * rng.normal(size=200)
    signal[130:150] += template
    response = matched_filter(signal, template)
    assert response.shape == (181,) and int(np.argmax(response)) == 130
    assert response[5] == pytest.approx(float(signal[5:25] @ template))
    with pytest.raises(ValueError, match="'template' expected"):
        matched_filter(template, signal)
    pytest.importorskip("matplotlib")
    assert plot_matched_filter(signal, template).startswith(b"\x89PNG")


def test_strongest_filter_finds_the_planted_template_where_it_was_planted():
    from convrnn.inspect.images import strongest_filter

    torch.manual_seed(0)
    template = torch.tensor([1.0, -2.0, 3.0, -1.0, 2.0])
    signal = 0.1 * torch.randn(2, 60)
    signal[1, 30:35] += template                      # channel 1 holds the pattern at n = 30
    layer = torch.nn.Conv1d(2, 3, 5, bias=False)
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[2, 1] = template                 # filter 2 is the matched filter for channel 1
        layer.weight[0, 0] = 0.05 * torch.randn(5)
    found = strongest_filter(torch.nn.Sequential(layer), signal[None])
    assert (found["layer"], found["filter"], found["channel"]) == ("0", 2, 1)
    assert int(found["response"].argmax()) == 30
    torch.testing.assert_close(found["template"], template)
    assert strongest_filter(torch.nn.Sequential(torch.nn.Linear(3, 2)), torch.randn(1, 3)) is None
