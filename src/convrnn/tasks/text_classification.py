"""Text classification, many → one over texts (``rotten-tomatoes``): a recurrent classifier, a word
CNN and a bag-of-words logistic-regression baseline on one split.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.data.batching import pad_sequences
from convrnn.data.text import Vocabulary, WordTokenizer
from convrnn.models.sequence_classifier import BagOfWordsClassifier, EnsembleClassifier, RecurrentClassifier
from convrnn.models.word2vec import WordVectors, embedding_from_vectors
from convrnn.tasks.image import classification_scores
from convrnn.tasks.protocol import ExportSignature
from convrnn.tasks.runs import Run
from convrnn.tasks.sequence import MODEL_CLASSES, SequenceTask, TokenInput, load_sequence_model, ranked, sequence_loader
from convrnn.training.checkpoint import save_model
from convrnn.training.distributed import is_main_process
from convrnn.training.metrics import Accuracy
from convrnn.training.seeding import seed_everything

TextSplits = dict[str, list[tuple[str, int]]]


def fit_logistic_regression(model: BagOfWordsClassifier, inputs: Tensor, labels: Tensor, *, l2: float,
                            iterations: int = 200) -> BagOfWordsClassifier:
    """Minimise the mean cross-entropy + (l2 / 2)·‖W‖² (bias not penalised) with full-batch L-BFGS —
    the convex problem has one minimum, so this is the logistic regression."""
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=iterations, history_size=20,
                                  tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def objective() -> Tensor:
        optimizer.zero_grad()
        value = F.cross_entropy(model(inputs), labels) + 0.5 * l2 * model.weight.weight.pow(2).sum()
        value.backward()
        return value

    optimizer.step(objective)
    return model


def start_from_vectors(model: nn.Module, vectors: WordVectors, vocabulary: Vocabulary, *, seed: int = 0) -> int:
    """Set ``model.embedding`` (fine-tuned) — and ``model.static_embedding`` (frozen) where the
    model has one (a multichannel classifier) — to ``vectors``' rows for the
    vocabulary's tokens (words without a vector: the same random rows in both). Returns how many
    tokens had a vector."""
    model.embedding, found = embedding_from_vectors(vectors, vocabulary.tokens, padding_idx=vocabulary.pad_index,
                                                    seed=seed)
    if getattr(model, "static_embedding", None) is not None:
        model.static_embedding, _ = embedding_from_vectors(vectors, vocabulary.tokens,
                                                           padding_idx=vocabulary.pad_index, freeze=True, seed=seed)
    return found


def distinct_ids(sequences: Sequence[Sequence[int]]) -> Tensor:
    """(N, U) each row's distinct ids, padded with 0: the input of :class:`BagOfWordsClassifier`."""
    rows = [sorted(set(ids) - {0}) or [0] for ids in sequences]
    padded, _ = pad_sequences(rows)
    return padded


@dataclass(frozen=True)
class TextClassificationRecipe(SequenceTask):
    """Classify short texts: embedding + bidirectional LSTM (``model``), Kim's CNN over words
    (``cnn``) and a bag-of-words logistic regression (``baseline``), on one split.

    ``load()`` returns ``{"train"|"validation"|"test": [(text, label), …]}``. Texts are
    tokenized by :class:`WordTokenizer` (lower case); the vocabulary holds the training words
    seen at least ``min_count`` times.

    ``word_vectors(training texts)``, when given, returns trained word vectors
    (:class:`convrnn.models.word2vec.WordVectors`, e.g. word2vec on a large corpus plus these
    texts — the seeds' "proxy task"); both networks then start their embeddings from them (rows of
    words without a vector drawn at the vectors' scale) and fine-tune them; a multichannel network
    (``multichannel=True`` in its options) also takes them as its frozen static channel.

    ``members``/``cnn_members`` = M > 1 makes that network an :class:`EnsembleClassifier`: M
    copies trained apart from seeds ``seed … seed + M − 1``, each kept at its own best validation
    epoch (under ``OUT/<name>_members/member_<m>``), averaging their probabilities.
    """

    name: str
    description: str
    load: Callable[[], TextSplits]
    classes: tuple[str, ...]
    model_options: dict[str, Any] = field(default_factory=dict)
    cnn_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 8
    cnn_epochs: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    min_count: int = 2
    baseline_l2: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    word_vectors: Callable[[list[str]], Any] | None = None
    members: int = 1
    cnn_members: int = 1
    target: str = ""

    kind = "text-classification"
    capabilities = frozenset({"export"})

    def _encode(self, vocabulary: Vocabulary, examples: list[tuple[str, int]]) -> list[tuple[Tensor, int]]:
        tokenizer = WordTokenizer(lowercase=True)
        # an empty text still needs one step: it reads as a single unknown word
        return [(torch.tensor(vocabulary.encode(tokenizer.tokenize(text)) or [vocabulary.unk_index]), int(label))
                for text, label in examples]

    def fit(self, run: Run) -> dict[str, Any]:
        """Train the three models into ``run.out``; the recurrent one is ``out/model``. The CNN trains
        for ``cnn_epochs`` unless the command line sets ``--epochs``."""
        out, settings = run.out, run.settings
        limit, seed, device = settings.limit, settings.seed, settings.device
        cnn_epochs = self.cnn_epochs if run.given.get("epochs") is None else settings.epochs
        data = self.load()
        train_examples = data["train"][:limit] if limit is not None else data["train"]
        tokenizer = WordTokenizer(lowercase=True)
        vocabulary = Vocabulary.build((tokenizer.tokenize(text) for text, _ in train_examples),
                                      min_count=self.min_count)
        encoded = {split: self._encode(vocabulary, examples)
                   for split, examples in (("train", train_examples), ("validation", data["validation"]),
                                           ("test", data["test"]))}
        common = {"recipe": self.name, "classes": list(self.classes), "tokenizer": tokenizer.to_json(),
                  "vocabulary": vocabulary.to_json()}
        scores: dict[str, Any] = {}
        vectors = self.word_vectors([text for text, _ in train_examples]) if self.word_vectors else None
        val = sequence_loader(encoded["validation"], 256, shuffle=False)
        for name, kind, options, model_epochs, members in (
                ("model", "recurrent-classifier", self.model_options, settings.epochs, self.members),
                ("cnn", "conv-text-classifier", self.cnn_options, cnn_epochs,
                 self.cnn_members)):
            options = {"num_classes": len(self.classes), "vocab_size": len(vocabulary), **options}
            config = {**common, "model": kind, "model_options": options}
            trained = []
            for member in range(members):
                # member m starts from seed + m: its own initial weights, batch order and dropout
                member_seed = seed + member
                seed_everything(member_seed)
                model = MODEL_CLASSES[kind](**options)
                if vectors is not None:
                    scores["pretrained_words"] = start_from_vectors(model, vectors, vocabulary, seed=member_seed)
                train = sequence_loader(encoded["train"], settings.batch_size, shuffle=True, seed=member_seed)
                model_settings = dataclasses.replace(settings, epochs=model_epochs, seed=member_seed)
                where, member_name = (out, name) if members == 1 else (out / f"{name}_members", f"member_{member}")
                self.fit_sequence_model(run, model, train, val, out=where, name=member_name, settings=model_settings,
                                        loss=nn.CrossEntropyLoss(), metrics={"accuracy": Accuracy()},
                                        monitor="val_accuracy", mode="max", config=config)
                trained.append(model)
            if members > 1:
                model = EnsembleClassifier(kind, members, options)
                for slot, member_model in zip(model.members, trained, strict=True):
                    slot.load_state_dict(member_model.state_dict())
                if is_main_process():
                    save_model(out / name, model, {**common, "model": "classifier-ensemble",
                                                   "model_options": {"member": kind, "members": members,
                                                                     "options": options}})
            prefix = "" if name == "model" else f"{name}_"
            scores[f"val_{prefix}accuracy"] = classification_scores(model, val, device=device)["accuracy"]
            test = classification_scores(model, sequence_loader(encoded["test"], 256, shuffle=False), device=device)
            scores |= {f"test_{prefix}accuracy": test["accuracy"], f"test_{prefix}loss": test["loss"]}
        baseline, l2, validation_accuracy = self._fit_baseline(vocabulary, encoded)
        if is_main_process():
            save_model(out / "baseline", baseline, {**common, "model": "bag-of-words",
                                                    "model_options": {"num_classes": len(self.classes),
                                                                      "vocab_size": len(vocabulary)}, "l2": l2})
        scores["test_baseline_accuracy"] = self._bag_accuracy(baseline, encoded["test"])
        scores["baseline_l2"], scores["baseline_val_accuracy"] = l2, validation_accuracy
        return self.finish(run, scores)

    @staticmethod
    def _bag_accuracy(model: nn.Module, examples: list[tuple[Tensor, int]]) -> float:
        inputs = distinct_ids([ids.tolist() for ids, _ in examples])
        labels = torch.tensor([label for _, label in examples])
        with torch.no_grad():
            return float((model(inputs).argmax(1) == labels).double().mean())

    def _fit_baseline(self, vocabulary: Vocabulary, encoded: dict[str, list[tuple[Tensor, int]]]
                      ) -> tuple[BagOfWordsClassifier, float, float]:
        """The logistic regression whose L2 strength (from ``baseline_l2``) is best on validation."""
        inputs = distinct_ids([ids.tolist() for ids, _ in encoded["train"]])
        labels = torch.tensor([label for _, label in encoded["train"]])
        best: tuple[BagOfWordsClassifier, float, float] | None = None
        for l2 in self.baseline_l2:
            model = fit_logistic_regression(BagOfWordsClassifier(len(self.classes), vocab_size=len(vocabulary)),
                                            inputs, labels, l2=l2)
            accuracy = self._bag_accuracy(model, encoded["validation"])
            if best is None or accuracy > best[2]:
                best = (model, l2, accuracy)
        assert best is not None
        return best

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Accuracy of the recurrent model, the CNN and the baseline on ``split``."""
        data = self.load()
        if split not in data:
            raise ValueError(f"evaluate: argument 'split' expected one of {sorted(data)}, got {split!r}")
        scores: dict[str, float] = {}
        for name in ("model", "cnn", "baseline"):
            model, config = load_sequence_model(run, name)
            examples = self._encode(Vocabulary.from_json(config["vocabulary"]), data[split])
            key = "accuracy" if name == "model" else f"{name}_accuracy"
            if name == "baseline":
                scores[key] = self._bag_accuracy(model, examples)
            else:
                scores[key] = classification_scores(model, sequence_loader(examples, 256, shuffle=False),
                                                    device=device)["accuracy"]
        return scores

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per text: the recurrent model's class probabilities, then the text."""
        model, config = load_sequence_model(run)
        vocabulary = Vocabulary.from_json(config["vocabulary"])
        lines = []
        for text in inputs:
            tokens = WordTokenizer(lowercase=True).tokenize(text)
            if not tokens:
                raise ValueError(f"predict: expected a text with at least one word, got {text!r}")
            with torch.no_grad():
                probabilities = torch.softmax(model(torch.tensor([vocabulary.encode(tokens)])), dim=-1)[0]
            lines.append(f"{ranked(probabilities, config['classes'], top)}: {text}")
        return lines

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Token ids ``(N, T)`` in (the config's vocabulary), class logits out; N and T dynamic."""
        return ExportSignature((torch.ones(2, 9, dtype=torch.long),), {"tokens": ["N", "T"]}, ["tokens"], ["logits"])

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained recurrent model (over a 20 000-word vocabulary) fed token ids ``(T,)``."""
        options = {"num_classes": len(self.classes), "vocab_size": 20_000, **self.model_options}
        return TokenInput(RecurrentClassifier(**options)), (40,)


__all__ = ["TextClassificationRecipe", "distinct_ids", "fit_logistic_regression", "start_from_vectors"]
