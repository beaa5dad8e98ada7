"""Streaming inference: real-time factor, per-chunk latency and the overhead over offline inference.

For the keyword spotter's causal variant (22,050 Hz, 10 ms hop; ``KeywordSpotter(causal=True)``) and a
2×256 LSTM tagger (look-ahead 1 per layer, word + character features), on one CPU thread:

- real-time factor: seconds of signal per second of compute while streaming (audio pushed in
  10 ms / 20 ms chunks; the tagger one word at a time, its signal time taken as 3 words per second,
  i.e. speech);
- per-chunk latency: p50 and p99 of the wall time of one ``push`` (the compute a chunk costs before
  its outputs are out);
- overhead: streaming compute per second of signal / offline compute on the whole signal (one call);
- the same keyword chunks through the native backend (``convrnn.stream(model, backend="native")``: the
  chunk step in one compiled call), and the tagger's words the same way (word features, both LSTM layers and
  the classifier in one compiled call, from the word and character ids) and through the stream's chunk step exported to ONNX (``export_stream``,
  what ``convrnn export RUN --stream`` writes) run by ``ExportedStream`` in onnxruntime, if installed;
- the keyword cases run interleaved (a pass of each in turn, each right after an offline pass, ``--repeats``
  times), so they share the machine's load, and so do the tagger's; RTF and overhead are medians over the passes
  (overhead: of each pass over the offline pass right before it: this machine's speed drifts by tens of percent
  within seconds), p50/p99 over every chunk of every pass; the load average is printed;
- the declared look-ahead of each model (``Stream.latency_table``), to which a live system adds one
  chunk of buffering and the compute.

    python benchmarks/streaming.py [--seconds 10] [--threads 1] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

import convrnn
from _timing import median_time
from convrnn.models.keyword_spotter import KeywordSpotter
from convrnn.models.tagger import Tagger

WORDS_PER_SECOND = 3.0


def stream_times(stream: convrnn.stream.Stream | convrnn.stream.ExportedStream, chunks: list) -> list[float]:
    """Wall time of every push of one pass over ``chunks``, then a flush (not timed)."""
    times = []
    with torch.inference_mode():
        for chunk in chunks:
            start = time.perf_counter()
            stream.push(chunk)
            times.append(time.perf_counter() - start)
        stream.flush()
    return times


def offline_time(fn, repeats: int = 5) -> float:
    with torch.inference_mode():
        return median_time(fn, repeats, warmup=1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def keyword_cases(spotter: KeywordSpotter, wave: torch.Tensor, threads: int, folder: str) -> list[tuple]:
    """``(name, stream, chunks, seconds of signal in the chunks)`` for every keyword-spotter case."""
    rate = spotter.sample_rate
    cases = []
    for chunk_ms in (10, 20):
        size = rate * chunk_ms // 1000
        chunks = [wave[..., i:i + size] for i in range(0, wave.shape[-1], size)]
        seconds = wave.shape[-1] / rate
        cases.append((f"keyword spotter, PyTorch, {chunk_ms} ms chunks", convrnn.stream(spotter), chunks, seconds))
        cases.append((f"  same, native, {chunk_ms} ms chunks", convrnn.stream(spotter, backend="native"), chunks,
                      seconds))
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return cases
    import logging
    from pathlib import Path

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    for chunk_ms in (10, 20):
        # what `convrnn export RUN --stream --chunk-ms …` writes and `convrnn listen FILE` runs: whole hops
        size = max(1, round(rate * chunk_ms / 1000 / spotter.hop_length)) * spotter.hop_length
        path = Path(folder) / f"stream{chunk_ms}.onnx"
        convrnn.stream.export_stream(spotter.stream_layers(pooled=False), wave[..., :size], path)
        whole = wave.shape[-1] // size * size
        chunks = [wave[..., i:i + size] for i in range(0, whole, size)]
        cases.append((f"  same, exported (ONNX), {size} samples", convrnn.stream.ExportedStream(path, threads=threads),
                      chunks, whole / rate))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="signal length (default 10 s)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved passes per case (default 7)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.seconds:g} s of signal, "
          f"{args.repeats} interleaved passes, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'case':38s} {'RTF':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'overhead':>10s}")

    spotter = KeywordSpotter(causal=True).eval()
    wave = torch.randn(1, 1, int(args.seconds * spotter.sample_rate))
    with tempfile.TemporaryDirectory() as folder:
        cases = keyword_cases(spotter, wave, args.threads, folder)
        for _, stream, chunks, _ in cases:   # warm-up (and the native kernel's build)
            stream_times(stream, chunks[:20])
        # every pass of every case beside an offline pass, in turn, so that they share the machine's load
        totals: dict[str, list[float]] = {name: [] for name, *_ in cases}
        ratios: dict[str, list[float]] = {name: [] for name, *_ in cases}
        every: dict[str, list[float]] = {name: [] for name, *_ in cases}
        offline = []
        for _ in range(args.repeats):
            for name, stream, chunks, seconds in cases:
                offline.append(offline_time(lambda: spotter(wave), repeats=3))   # right before the pass it is beside
                times = stream_times(stream, chunks)
                totals[name].append(sum(times))
                ratios[name].append(sum(times) / (offline[-1] * seconds * spotter.sample_rate / wave.shape[-1]))
                every[name] += times
        for name, _, _, seconds in cases:
            total = statistics.median(totals[name])
            print(f"{name:38s} {seconds / total:8.1f}× {1e3 * percentile(every[name], 0.5):8.2f} "
                  f"{1e3 * percentile(every[name], 0.99):8.2f} {statistics.median(ratios[name]):9.2f}×")
        print(f"  (offline: {1e3 * statistics.median(offline):.1f} ms for {args.seconds:g} s of signal, median)")
    rate = spotter.sample_rate

    tagger = Tagger(num_tags=12, vocab_size=20_000, alphabet_size=100, word_dim=100, char_dim=30, char_channels=50,
                    char_kernel=3, hidden_size=256, num_layers=2, cell="lstm", lookahead=1).eval()
    count = int(args.seconds * WORDS_PER_SECOND)
    words = torch.randint(2, 20_000, (1, count))
    characters = torch.randint(1, 100, (1, count, 8))
    chunks = [(words[:, t:t + 1], characters[:, t:t + 1]) for t in range(count)]
    tagger_cases = [("2×256 LSTM tagger, PyTorch, 1 word chunks", convrnn.stream(tagger)),
                    ("  same, native", convrnn.stream(tagger, backend="native"))]
    for _, stream in tagger_cases:
        stream_times(stream, chunks[:10])
    # a pass of each beside an offline pass, in turn, as the keyword cases
    totals = {name: [] for name, _ in tagger_cases}
    ratios = {name: [] for name, _ in tagger_cases}
    every = {name: [] for name, _ in tagger_cases}
    offline = []
    for _ in range(args.repeats):
        for name, stream in tagger_cases:
            offline.append(offline_time(lambda: tagger(words, characters), repeats=3))
            times = stream_times(stream, chunks)
            totals[name].append(sum(times))
            ratios[name].append(sum(times) / offline[-1])
            every[name] += times
    for name, _ in tagger_cases:
        total = statistics.median(totals[name])
        print(f"{name:38s} {args.seconds / total:8.1f}× {1e3 * percentile(every[name], 0.5):8.2f} "
              f"{1e3 * percentile(every[name], 0.99):8.2f} {statistics.median(ratios[name]):9.2f}×")
    print(f"  (offline: {1e3 * statistics.median(offline):.1f} ms for {count} words, median)")

    print("\ndeclared look-ahead, keyword spotter (causal):")
    print(convrnn.stream(spotter).latency_table(rate))
    print("\ndeclared look-ahead, keyword spotter (offline definition, approximate=True):")
    print(convrnn.stream(KeywordSpotter().eval(), approximate=True).latency_table(rate))
    print("\ndeclared look-ahead, 2×256 LSTM tagger (in words):")
    print(convrnn.stream(tagger).latency_table())
    print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
