"""Looking inside networks: per-layer summaries (shapes, parameters, multiply-adds, receptive fields)
and statistics (activations, gradients, dead ReLUs)."""

from convrnn.inspect.stats import LayerStats, StatsTable, layer_stats
from convrnn.inspect.summary import LayerRow, Summary, count_parameters, summary

__all__ = ["LayerRow", "LayerStats", "StatsTable", "Summary", "count_parameters", "layer_stats", "summary"]
