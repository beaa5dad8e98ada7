"""Tagging, many → many corresponding (``brown-pos``): a BiLSTM tagger with a character model for
unknown words, and its accuracy against look-ahead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from convrnn.data.batching import IGNORE_INDEX, LengthBucketSampler, pad_sequences
from convrnn.data.text import Vocabulary, WordTokenizer
from convrnn.models.tagger import Tagger
from convrnn.tasks.protocol import ExportSignature
from convrnn.tasks.runs import Run
from convrnn.tasks.sequence import SequenceTask, load_sequence_model
from convrnn.training.distributed import is_main_process
from convrnn.training.files import write_json
from convrnn.training.metrics import Accuracy

TaggedSplits = dict[str, list[list[tuple[str, str]]]]


class TaggingCollate:
    """Pads a batch of encoded sentences ``(word ids (T_i,), characters (T_i, W_i), tags (T_i,))``
    to ``{"words": (N, T), "characters": (N, T, W), "lengths": (N,), "targets": (N, T)}``;
    padded tags are ``IGNORE_INDEX``. With ``unknown_rate`` p > 0 (training) each word id becomes
    ``<unk>`` with probability p — its characters stay — so the model learns what to do with
    words it has never seen."""

    def __init__(self, unknown_rate: float = 0.0, unknown_index: int = 1) -> None:
        self.unknown_rate, self.unknown_index = unknown_rate, unknown_index

    def __call__(self, examples: Sequence[tuple[Tensor, Tensor, Tensor]]) -> dict[str, Tensor]:
        words, lengths = pad_sequences([w for w, _, _ in examples])
        tags, _ = pad_sequences([t for _, _, t in examples], padding_value=IGNORE_INDEX)
        width = max(c.shape[1] for _, c, _ in examples)
        characters = torch.zeros(len(examples), words.shape[1], width, dtype=torch.long)
        for row, (_, chars, _) in enumerate(examples):
            characters[row, :chars.shape[0], :chars.shape[1]] = chars
        if self.unknown_rate > 0:
            dropped = (torch.rand(words.shape) < self.unknown_rate) & (words != 0)
            words = words.masked_fill(dropped, self.unknown_index)
        return {"words": words, "characters": characters, "lengths": lengths, "targets": tags}


def tagging_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over the real words: logits (N, T, K), targets (N, T) with padding
    ``IGNORE_INDEX``."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)


@dataclass(frozen=True)
class TaggingRecipe(SequenceTask):
    """Tag every word of a sentence with a BiLSTM tagger (word embeddings + character CNN).

    ``load()`` returns ``{"train"|"validation"|"test": [[(word, tag), …], …]}`` with the tags
    already in ``tags``. Word embeddings are looked up lower-cased (training words seen at least
    ``min_count`` times); the character CNN sees the word as written (up to
    ``max_word_length`` characters).
    """

    name: str
    description: str
    load: Callable[[], TaggedSplits]
    tags: tuple[str, ...]
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 5
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    min_count: int = 2
    unknown_rate: float = 0.05
    max_word_length: int = 20
    target: str = ""

    kind = "tagging"
    capabilities = frozenset({"export", "stream"})

    def _encode(self, words: Vocabulary, alphabet: Vocabulary, sentence: list[tuple[str, str]] | list[str]
                ) -> tuple[Tensor, Tensor, Tensor]:
        tokens = [item if isinstance(item, str) else item[0] for item in sentence]
        tags = [self.tags.index(item[1]) if not isinstance(item, str) else 0 for item in sentence]
        characters, _ = pad_sequences([alphabet.encode(token[:self.max_word_length]) or [alphabet.unk_index]
                                       for token in tokens])
        return torch.tensor(words.encode(t.lower() for t in tokens)), characters, torch.tensor(tags)

    def _loader(self, words: Vocabulary, alphabet: Vocabulary, sentences: list[Any], batch_size: int, *,
                shuffle: bool, seed: int = 0, unknown_rate: float = 0.0) -> DataLoader[Any]:
        examples = [self._encode(words, alphabet, sentence) for sentence in sentences if sentence]
        lengths = [len(w) for w, _, _ in examples]
        sampler = LengthBucketSampler(lengths, batch_size, shuffle=shuffle, seed=seed)
        return DataLoader(examples, batch_sampler=sampler, collate_fn=TaggingCollate(unknown_rate, words.unk_index))

    def fit(self, run: Run, lookahead: int | str | None = "default", data: TaggedSplits | None = None
            ) -> dict[str, Any]:
        """Train into ``run.out``; ``lookahead`` overrides the model's (``None`` = full sentence);
        ``data`` reuses already loaded splits (the look-ahead study trains five times)."""
        settings, limit, seed = run.settings, run.settings.limit, run.settings.seed
        data = data or self.load()
        sentences = data["train"][:limit] if limit is not None else data["train"]
        words = Vocabulary.build(([w.lower() for w, _ in s] for s in sentences), min_count=self.min_count)
        alphabet = Vocabulary.build(list(w) for s in sentences for w, _ in s)
        options = {"num_tags": len(self.tags), "vocab_size": len(words), "alphabet_size": len(alphabet),
                   **self.model_options}
        if lookahead != "default":
            options["lookahead"] = lookahead
        model = Tagger(**options)
        config = {"recipe": self.name, "model": "tagger", "model_options": options, "tags": list(self.tags),
                  "vocabulary": words.to_json(), "alphabet": alphabet.to_json(),
                  "max_word_length": self.max_word_length}
        train = self._loader(words, alphabet, sentences, settings.batch_size, shuffle=True, seed=seed,
                             unknown_rate=self.unknown_rate)
        val = self._loader(words, alphabet, data["validation"], 256, shuffle=False)
        self.fit_sequence_model(run, model, train, val, loss=tagging_loss,
                                metrics={"accuracy": Accuracy(class_dim=-1, ignore_index=IGNORE_INDEX)},
                                monitor="val_accuracy", mode="max", config=config)
        test = self._scores(model, words, alphabet, data["test"], settings.device)
        return self.finish(run, {"test_accuracy": test["accuracy"],
                                 "test_unknown_word_accuracy": test["unknown_accuracy"],
                                 "test_loss": test["loss"], "lookahead": options.get("lookahead")})

    def _scores(self, model: nn.Module, words: Vocabulary, alphabet: Vocabulary, sentences: list[Any],
                device: str) -> dict[str, float | None]:
        """Token accuracy, and accuracy on the words outside the training vocabulary."""
        loader = self._loader(words, alphabet, sentences, 256, shuffle=False)
        model.eval().to(device)
        correct = counted = unknown_correct = unknown = 0
        loss = 0.0
        with torch.no_grad():
            for batch in loader:
                batch = {key: value.to(device) for key, value in batch.items()}
                logits = model(batch["words"], batch["characters"], batch["lengths"])
                real = batch["targets"] != IGNORE_INDEX
                hits = (logits.argmax(-1) == batch["targets"]) & real
                unseen = real & (batch["words"] == words.unk_index)
                correct += int(hits.sum())
                counted += int(real.sum())
                unknown_correct += int((hits & unseen).sum())
                unknown += int(unseen.sum())
                loss += float(tagging_loss(logits, batch["targets"])) * int(real.sum())
        return {"accuracy": correct / counted, "loss": loss / counted,
                # None, not NaN, when no word is unknown: scores are written as strict JSON
                "unknown_accuracy": unknown_correct / unknown if unknown else None}

    def evaluate(self, run: str | os.PathLike[str], split: str = "test", device: str = "cpu") -> dict[str, float]:
        """Token accuracy (all words, and unknown words) of the trained tagger on ``split``."""
        model, config = load_sequence_model(run)
        data = self.load()
        if split not in data:
            raise ValueError(f"evaluate: argument 'split' expected one of {sorted(data)}, got {split!r}")
        return self._scores(model, Vocabulary.from_json(config["vocabulary"]),
                            Vocabulary.from_json(config["alphabet"]), data[split], device)

    def predict(self, run: str | os.PathLike[str], inputs: list[str], top: int = 3) -> list[str]:
        """One line per sentence: ``word/TAG`` for every word (words split on spaces and before
        punctuation)."""
        model, config = load_sequence_model(run)
        words, alphabet = Vocabulary.from_json(config["vocabulary"]), Vocabulary.from_json(config["alphabet"])
        tokenizer = WordTokenizer(lowercase=False)
        lines = []
        for text in inputs:
            tokens = tokenizer.tokenize(text)
            if not tokens:
                raise ValueError(f"predict: expected a sentence with at least one word, got {text!r}")
            word_ids, characters, _ = self._encode(words, alphabet, tokens)
            with torch.no_grad():
                logits = model(word_ids.unsqueeze(0), characters.unsqueeze(0))[0]
            tags = [config["tags"][i] for i in logits.argmax(-1).tolist()]
            lines.append(" ".join(f"{token}/{tag}" for token, tag in zip(tokens, tags, strict=True)))
        return lines

    def export_signature(self, model: nn.Module, config: dict[str, Any]) -> ExportSignature:
        """Word ids ``(N, T)`` and their characters' ids ``(N, T, W)`` in, tag logits ``(N, T, tags)``
        out; N, T and W (the longest word's characters, at most the config's ``max_word_length``) dynamic."""
        words = torch.ones(2, 9, dtype=torch.long)
        characters = torch.ones(2, 9, 7, dtype=torch.long)
        return ExportSignature((words, characters), {"words": ["N", "T"], "characters": ["N", "T", "W"]},
                               ["words", "characters"], ["logits"])

    def stream(self, run: str | os.PathLike[str], source: str | os.PathLike[str] | TextIO, **options: Any
               ) -> Iterator[str]:
        """Tag text as it arrives, one word at a time (:func:`convrnn.stream`): ``source`` a text file, ``"-"``
        (standard input) or a text file object, one sentence a line. Yields a line stating the delay, then
        ``word/TAG`` for each word once its tag is final, i.e. once ``num_layers · lookahead`` more words
        (or the end of the sentence) are in, ``(after 'w')`` naming the word that made it final.
        A tagger trained with the whole sentence (``lookahead=None``) is not causal and refuses. ``backend``:
        ``"python"`` (default) or ``"native"`` (each word in one compiled call, the same tags)."""
        import sys

        from convrnn.stream import stream

        backend = options.pop("backend", "python")
        if options:
            shown = ", ".join("--" + key.replace("_", "-") for key in sorted(options))
            raise ValueError(f"listen: {shown} apply to audio; the {self.kind} task kind takes no options")
        model, config = load_sequence_model(run)
        words, alphabet = Vocabulary.from_json(config["vocabulary"]), Vocabulary.from_json(config["alphabet"])
        tags, tokenizer = config["tags"], WordTokenizer(lowercase=False)
        tagged = stream(model, backend=backend)
        delay = tagged.latency
        yield (f"tagging word by word: each tag is final {delay} word{'s' if delay != 1 else ''} later "
               f"(look-ahead {model.rnn.lookahead} × {model.rnn.num_layers} layer{'s' * (model.rnn.num_layers > 1)})")
        if isinstance(source, (str, os.PathLike)):
            if str(source) == "-":
                lines: Iterable[str] = sys.stdin
            elif not os.path.isfile(source):
                raise FileNotFoundError(f"stream: no such text file: '{source}'")
            else:
                lines = Path(source).read_text(encoding="utf-8").splitlines()
        else:
            lines = source
        for line in lines:
            tokens = tokenizer.tokenize(line)
            done = 0
            for index, token in enumerate(tokens):
                word_ids, characters, _ = self._encode(words, alphabet, [token])
                logits = tagged.push((word_ids.view(1, 1), characters.unsqueeze(0)))
                for k in logits[0].argmax(-1).tolist():
                    yield f"{tokens[done]}/{tags[k]}" + (f"  (after '{token}')" if done != index else "")
                    done += 1
            tail = tagged.flush()
            for k in ([] if tail is None else tail[0].argmax(-1).tolist()):
                yield f"{tokens[done]}/{tags[k]}  (end of sentence)"
                done += 1

    def summary_model(self) -> tuple[nn.Module, tuple[int, ...]]:
        """The untrained tagger (20 000 words, 100 characters) on a 25-word sentence of zeros."""
        options = {"num_tags": len(self.tags), "vocab_size": 20_000, "alphabet_size": 100, **self.model_options}
        return _WordsOnly(Tagger(**options)), (25,)

    def lookahead_table(self, out: str | os.PathLike[str], lookaheads: Sequence[int | None] = (0, 1, 2, 4, None),
                        **options: Any) -> list[dict[str, Any]]:
        """Train one tagger per look-ahead into ``out/lookahead-<L>`` and write the table of test
        accuracies to ``out/lookahead.json`` (what a real-time tagger gives up)."""
        out, data = Path(out), self.load()
        rows = []
        for lookahead in lookaheads:
            label = "full" if lookahead is None else str(lookahead)
            scores = self.train(out / f"lookahead-{label}", lookahead=lookahead, data=data, **options)
            rows.append({"lookahead": label, "test_accuracy": scores["test_accuracy"],
                         "test_unknown_word_accuracy": scores["test_unknown_word_accuracy"],
                         "wall_seconds": scores["wall_seconds"]})
            if is_main_process():
                write_json(out / "lookahead.json", {"recipe": self.name, "rows": rows, "options": options})
        return rows


class _WordsOnly(nn.Module):
    """Runs a tagger on word ids alone (each word one padding character) for ``convrnn summary``."""

    def __init__(self, tagger: Tagger) -> None:
        super().__init__()
        self.tagger = tagger

    def forward(self, x: Tensor) -> Tensor:
        words = x.long()
        return self.tagger(words, torch.ones(*words.shape, 1, dtype=torch.long, device=x.device))


__all__ = ["TaggingCollate", "TaggingRecipe", "tagging_loss"]
