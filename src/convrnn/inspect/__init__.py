"""Looking inside networks: per-layer summaries (shapes, parameters, multiply-adds, receptive fields)."""

from convrnn.inspect.summary import LayerRow, Summary, count_parameters, summary

__all__ = ["LayerRow", "Summary", "count_parameters", "summary"]
