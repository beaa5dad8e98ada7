"""Leaving PyTorch: a trained model as an ONNX model or a ``torch.export`` program, with its contract.

``export_model`` writes the file and its contract (inputs, outputs, dynamic axes, the task's
pre/post-processing); ``ExportedModel`` runs it back (onnxruntime, or the exported program)
called exactly like the model. ``convrnn export RUN`` and ``convrnn predict FILE`` use them.
"""

from convrnn.export.program import FORMATS, ExportedModel, contract_path, export_model, is_exported, read_contract

__all__ = ["FORMATS", "ExportedModel", "contract_path", "export_model", "is_exported", "read_contract"]
