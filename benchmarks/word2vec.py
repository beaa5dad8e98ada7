"""convrnn's word2vec against gensim 4.4: same corpus, same settings, same run, 2 threads each.

Every (tool, architecture, seed) trains in its own subprocess, so each peak RSS is its own; the
two tools alternate, in alternating order, so load from other processes hits both. Both read the
same sentences — held in memory as token lists (default) or streamed from disk (``--stream``) —
and both tools' vectors are scored by the same code (convrnn.models.word2vec.evaluation, gensim's
protocol: case-insensitive, restricted to 300k words); gensim's own ``evaluate_word_analogies``
is printed beside ours as a check of that code.

    OMP_NUM_THREADS=1 python benchmarks/word2vec.py --corpus sotu --repeats 2
    OMP_NUM_THREADS=1 python benchmarks/word2vec.py --corpus sotu,shakespeare,ptb --architectures cbow
    OMP_NUM_THREADS=1 python benchmarks/word2vec.py --objectives hs   # hierarchical softmax only

Objectives (``--objectives``, default ``negative,hs``): ``negative`` is negative sampling (negative 5,
hs 0), ``hs`` hierarchical softmax alone (gensim's ``hs=1, negative=0``), ``hs+negative`` both.

Words/s = epochs × corpus tokens (all of them, gensim's ``corpus_total_words``) / training seconds
(vocabulary building excluded), the same definition for both tools.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time

SETTINGS = {"vector_size": 100, "window": 5, "min_count": 5, "sample": 1e-3, "epochs": 5, "workers": 2}
OBJECTIVES = {"negative": {"negative": 5, "hs": 0}, "hs": {"negative": 0, "hs": 1},
              "hs+negative": {"negative": 5, "hs": 1}}


def corpus(sources: list[str], stream: bool):
    from convrnn.data.text_stream import TextStream

    text = TextStream(sources)
    return text if stream else list(text)


def scores_of(words: list[str], vectors) -> dict[str, float]:
    from convrnn.data.lexicons import embedding_benchmarks
    from convrnn.models.word2vec import WordVectors, evaluate_analogies, evaluate_benchmarks

    wv = WordVectors(words, vectors)
    benchmarks = embedding_benchmarks()
    scores = evaluate_benchmarks(wv, benchmarks)
    scores["analogy_3cosmul"] = evaluate_analogies(wv, benchmarks["analogies"], method="3cosmul").accuracy
    return scores


def worker(tool: str, architecture: str, objective: str, seed: int, sources: list[str],
           stream: bool, gensim_decay: str = "words", workers: int = SETTINGS["workers"]) -> dict[str, float]:
    import numpy as np
    import torch

    settings_here = {**SETTINGS, "workers": workers}

    sentences = corpus(sources, stream)
    total = sum(map(len, sentences))  # every token, in vocabulary or not, as gensim's corpus_total_words
    if tool == "gensim":
        from gensim.models import Word2Vec as GensimWord2Vec

        model = GensimWord2Vec(sg=int(architecture == "skipgram"), seed=seed, **OBJECTIVES[objective],
                               **{k: v for k, v in settings_here.items() if k != "epochs"})
        model.build_vocab(sentences)
        started = time.perf_counter()
        # α's linear decay by words read, as word2vec.c and convrnn (total_words), or by sentences (total_examples)
        decay = ({"total_words": model.corpus_total_words} if gensim_decay == "words" else
                 {"total_examples": model.corpus_count})
        model.train(sentences, epochs=SETTINGS["epochs"], **decay)
        seconds = time.perf_counter() - started
        words, vectors = list(model.wv.index_to_key), torch.from_numpy(np.ascontiguousarray(model.wv.vectors))
        own = model.wv.evaluate_word_analogies(str(_benchmark_file("questions-words.txt")))[0]
        extra = {"gensim_own_analogy": own, "vocabulary": len(words)}
    else:
        from convrnn.models.word2vec import Word2Vec, Word2VecSettings, WordVocabulary, train_word2vec

        settings = Word2VecSettings(architecture=architecture, seed=seed, **OBJECTIVES[objective], **settings_here)
        vocabulary = WordVocabulary.build(sentences, min_count=settings.min_count)
        model = Word2Vec(len(vocabulary), settings.vector_size, seed=seed, hierarchical=settings.hs)
        report = train_word2vec(model, vocabulary, sentences, settings)
        seconds, words, vectors = report.seconds, vocabulary.words, model.input.data
        extra = {"engine": report.engine, "vocabulary": len(words), "effective_words": report.effective_words}
    result = {"seconds": seconds, "words_per_second": SETTINGS["epochs"] * total / seconds, **extra,
              **scores_of(words, vectors), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    return result


def _benchmark_file(name: str):
    from convrnn.data.fetch import ensure_fetched

    return ensure_fetched("embedding-benchmarks") / name


def run_worker(tool: str, architecture: str, objective: str, seed: int, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", tool, "--architectures", architecture, "--objectives", objective,
               "--seed", str(seed), "--corpus", args.corpus, "--gensim-decay", args.gensim_decay,
               "--workers", str(args.workers)] + (
                   ["--stream"] if args.stream else [])
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="sotu", help="comma-separated TextStream sources (default sotu)")
    parser.add_argument("--architectures", default="cbow,skipgram")
    parser.add_argument("--objectives", default="negative,hs", help="comma-separated: negative (sampling), hs (hierarchical softmax), hs+negative")
    parser.add_argument("--repeats", type=int, default=2, help="seeds per tool and architecture")
    parser.add_argument("--stream", action="store_true", help="stream sentences from disk instead of memory")
    parser.add_argument("--gensim-decay", choices=("words", "sentences"), default="words",
                        help="gensim's α decay: by words read (total_words, as word2vec.c and convrnn; default) or "
                             "by sentences (total_examples)")
    parser.add_argument("--workers", type=int, default=SETTINGS["workers"],
                        help="Hogwild workers (threads) per tool (default 2; 1 makes each run deterministic in its seed)")
    parser.add_argument("--first-seed", type=int, default=1, help="the seed of the first repeat (default 1)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sources = args.corpus.split(",")
    if args.worker:
        print(json.dumps(worker(args.worker, args.architectures, args.objectives, args.seed, sources, args.stream,
                                args.gensim_decay, args.workers)))
        return
    objectives = args.objectives.split(",")
    if any(objective not in OBJECTIVES for objective in objectives):
        parser.error(f"--objectives: expected names in {list(OBJECTIVES)}, got {args.objectives!r}")
    print(f"corpus {args.corpus} ({'streamed' if args.stream else 'in memory'}), settings {({**SETTINGS, 'workers': args.workers})}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    for architecture, objective in itertools.product(args.architectures.split(","), objectives):
        results: dict[str, list[dict[str, float]]] = {"convrnn": [], "gensim": []}
        label = f"{architecture} {objective} {OBJECTIVES[objective]}"
        for repeat in range(args.repeats):
            order = ("convrnn", "gensim") if repeat % 2 == 0 else ("gensim", "convrnn")
            for tool in order:
                result = run_worker(tool, architecture, objective, args.first_seed + repeat, args)
                results[tool].append(result)
                print(f"  {label} {tool} seed {args.first_seed + repeat}: {json.dumps(result)}", flush=True)
        print(f"\n{label}: median of {args.repeats} seeds (load average now {os.getloadavg()[0]:.1f})")
        keys = ("words_per_second", "seconds", "analogy_accuracy", "analogy_3cosmul", "wordsim353_spearman",
                "simlex999_spearman", "peak_rss_mb")
        print(f"| tool | {' | '.join(keys)} |\n|---|{'---|' * len(keys)}")
        for tool, runs in results.items():
            cells = [statistics.median(r[k] for r in runs) for k in keys]
            print(f"| {tool} | " + " | ".join(f"{c:,.0f}" if abs(c) >= 100 else f"{c:.4f}" for c in cells) + " |")
        asked = results["convrnn"][0]["analogy_asked"], results["gensim"][0]["analogy_asked"]
        print(f"analogy questions asked (in vocabulary): convrnn {asked[0]:.0f}, gensim {asked[1]:.0f} of 19,544; "
              f"gensim's own evaluate_word_analogies: {[round(r['gensim_own_analogy'], 4) for r in results['gensim']]}")


if __name__ == "__main__":
    main()
