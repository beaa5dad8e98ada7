"""Looking inside networks: per-layer summaries (shapes, parameters, multiply-adds, receptive fields),
statistics (activations, gradients, dead ReLUs), pictures (filters, feature maps), gradients through
time, recurrent cells over text, embeddings, training curves, and the sections of one HTML report.
It takes models and data and knows no task: :mod:`convrnn.tasks.report` reports a run directory.

Plots need matplotlib (``pip install 'convrnn[viz]'``); arrays and PNGs of filters and maps do not.
"""

from convrnn.inspect.alignment import plot_alignment, save_alignment
from convrnn.inspect.cells import CellMatch, cell_states, color_text, find_cells, text_features
from convrnn.inspect.curves import plot_curves, read_log
from convrnn.inspect.embeddings import pca_2d, plot_embeddings, project_2d
from convrnn.inspect.images import (
    feature_maps,
    filter_grid,
    layer_panel,
    matched_filter,
    plot_matched_filter,
    strongest_filter,
    tile,
)
from convrnn.inspect.report import Section, image_sections, language_model_sections, recurrent_sections, render_report
from convrnn.inspect.segmentation import PALETTE, colorize, plot_segmentations, write_segmentations
from convrnn.inspect.stats import LayerStats, StatsTable, layer_stats
from convrnn.inspect.summary import LayerRow, Summary, count_parameters, summary
from convrnn.inspect.through_time import (
    gradient_through_time,
    plot_eigenvalues,
    plot_gradient_norms,
    recurrent_eigenvalues,
    rnn_versus_lstm,
)

__all__ = [
    "PALETTE",
    "CellMatch",
    "LayerRow",
    "LayerStats",
    "Section",
    "StatsTable",
    "Summary",
    "cell_states",
    "color_text",
    "colorize",
    "count_parameters",
    "feature_maps",
    "filter_grid",
    "find_cells",
    "gradient_through_time",
    "image_sections",
    "language_model_sections",
    "layer_panel",
    "layer_stats",
    "matched_filter",
    "pca_2d",
    "plot_alignment",
    "plot_curves",
    "plot_eigenvalues",
    "plot_embeddings",
    "plot_gradient_norms",
    "plot_matched_filter",
    "plot_segmentations",
    "project_2d",
    "read_log",
    "recurrent_eigenvalues",
    "recurrent_sections",
    "render_report",
    "rnn_versus_lstm",
    "save_alignment",
    "strongest_filter",
    "summary",
    "text_features",
    "tile",
    "write_segmentations",
]
