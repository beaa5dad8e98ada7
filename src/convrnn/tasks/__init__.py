"""Task kinds, one file each, behind one protocol (:class:`Task`): what a recipe of the kind builds
(data, model, loss, metrics) and what its trained run offers (``evaluate``, ``predict``, and the
capabilities it declares: ``sample``, ``embed``, ``stream``, ``export``).

A recipe file under ``convrnn/recipes/`` is one instance of a kind. The plumbing every kind shares
is written once: :mod:`convrnn.tasks.protocol` (the protocol and the ``train`` preamble: the
command line's overrides, the device, seeding), :mod:`convrnn.tasks.settings` (those settings,
checked), :mod:`convrnn.tasks.runs` (run directories: writing ``scores.json``, loading a trained
run back), :mod:`convrnn.tasks.fitting` (optimizer, schedule and ``fit_to_best``) and
:mod:`convrnn.tasks.sequence` (what the sequence kinds share). :mod:`convrnn.tasks.report` hands
a trained run's model, config and data to :mod:`convrnn.inspect`.

A new task kind writes one file: a frozen dataclass subclassing :class:`Task` (or
:class:`SequenceTask`) with its ``kind`` name, its recipe fields, ``fit``, ``rebuild``,
``evaluate``, ``predict`` and ``summary_model`` — and, for each capability it declares, the method
of that name.
"""

from convrnn.tasks.detection import DetectRecipe
from convrnn.tasks.forecasting import ForecastingRecipe
from convrnn.tasks.image import ImageRecipe, load_trained
from convrnn.tasks.keyword import KeywordRecipe
from convrnn.tasks.language_model import LanguageModelRecipe, load_language_model
from convrnn.tasks.ocr import OCRRecipe
from convrnn.tasks.protocol import CAPABILITIES, Task
from convrnn.tasks.rare_event import RareEventRecipe
from convrnn.tasks.runs import Run, model_directory, run_config
from convrnn.tasks.segmentation import SegmentRecipe
from convrnn.tasks.seq2seq import G2PRecipe
from convrnn.tasks.sequence import SequenceTask, load_sequence_model
from convrnn.tasks.sequence_classification import FeatureSequenceRecipe
from convrnn.tasks.settings import Settings, resolve_device, resolve_settings
from convrnn.tasks.speech import SpeechRecipe
from convrnn.tasks.tagging import TaggingRecipe
from convrnn.tasks.text_classification import TextClassificationRecipe
from convrnn.tasks.word_vectors import Word2VecRecipe, load_vectors

__all__ = [
    "CAPABILITIES",
    "DetectRecipe",
    "FeatureSequenceRecipe",
    "ForecastingRecipe",
    "G2PRecipe",
    "ImageRecipe",
    "KeywordRecipe",
    "LanguageModelRecipe",
    "OCRRecipe",
    "RareEventRecipe",
    "Run",
    "SegmentRecipe",
    "SequenceTask",
    "Settings",
    "SpeechRecipe",
    "TaggingRecipe",
    "Task",
    "TextClassificationRecipe",
    "Word2VecRecipe",
    "load_language_model",
    "load_sequence_model",
    "load_trained",
    "load_vectors",
    "model_directory",
    "resolve_device",
    "resolve_settings",
    "run_config",
]
