"""The ``convrnn`` command: one sub-command per verb, each a thin shell over the library.

Every sub-command is a function ``_cmd_<verb>(args) -> int`` registered in ``_build_parser``. A run
is dispatched to its recipe (named in its saved config), and what it may do is asked of the
recipe's task kind (:class:`convrnn.tasks.Task`): its declared capabilities (``sample``,
``embed``, …) and ``train`` options (``--cell``, ``--objective``), never its class.
Errors a user can cause (bad arguments, missing files, unknown recipes) are raised as
``ValueError``/``TypeError``/``FileNotFoundError``/``KeyError`` and printed as one line,
``convrnn: error: ...``, with exit status 2 — never a traceback; a usage error argparse finds is one
line too, ``convrnn <cmd>: error: ...``. Anything else unforeseen is caught by the guard in :func:`main`:
one line and a hint that ``convrnn --debug …`` shows the traceback (status 1).
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from convrnn import __version__

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, KeyError, NotADirectoryError)
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG}  # a write failed: one line


class _OneLineParser(argparse.ArgumentParser):
    """A parser whose usage errors are one line, ``PROG: error: MESSAGE (see PROG --help)``, status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Parser(_OneLineParser):
    """The top-level parser: its help ends with the recipes and their task kinds, gathered only
    when help is shown (it imports every recipe)."""

    def format_help(self) -> str:
        self.epilog = "recipes (convrnn train RECIPE; task kind, description):\n" + "\n".join(
            f"  {line}" for line in _recipe_lines())
        return super().format_help()


def _recipe_lines() -> list[str]:
    """One line per recipe: its name, its task kind and its description."""
    from convrnn.recipes import RECIPE_NAMES, get_recipe

    recipes = [get_recipe(name) for name in RECIPE_NAMES]
    names = max((len(recipe.name) for recipe in recipes), default=0)
    width = max((len(recipe.kind) for recipe in recipes), default=0)
    return [f"{recipe.name:{names}s} {recipe.kind:{width}s}  {recipe.description}" for recipe in recipes]


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="convrnn",
        description="Convolutional and recurrent neural networks: train, inspect and use them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"convrnn {__version__}")
    parser.add_argument("--debug", action="store_true", help="on an unexpected error, show its Python traceback")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)

    p = sub.add_parser("train", help="train a recipe on its real data set (e.g. `convrnn train mnist`)")
    p.add_argument("recipe", help="a recipe name (see `convrnn train --list`)", nargs="?")
    p.add_argument("--list", action="store_true", help="list the recipes with their task kinds and exit")
    p.add_argument("--epochs", type=int, default=None, help="number of epochs (default: the recipe's)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="batch size (default: the recipe's); under torchrun the global batch, split over the processes")
    p.add_argument("--lr", type=float, default=None, help="(peak) learning rate (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=None, help="run directory (default: runs/RECIPE)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu); under torchrun "
                   "cpu (gloo) or cuda (NCCL, each process on cuda:LOCAL_RANK)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last (on any number of "
                   "processes)")
    p.add_argument("--limit", type=int, default=None, help="train on the first N examples only")
    p.add_argument("--cell", default=None, help="language-model recipes only: the recurrent layer, e.g. lstm, gru, "
                   "mingru, minlstm, qrnn (default: the recipe's)")
    p.add_argument("--architecture", default=None, help="word-vector recipes only: cbow or skipgram (default: the "
                   "recipe's)")
    p.add_argument("--objective", default=None, help="word-vector recipes only: what replaces the softmax over the "
                   "vocabulary: negative (negative sampling), hs (hierarchical softmax, gensim's hs=1 negative=0) or "
                   "hs+negative (both) (default: the recipe's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dist-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="under torchrun: how long a process waits for the others in one step before giving up "
                        "(default 600; rank 0's first download of the data must fit in it)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="test accuracy of a trained model (a run or model directory)")
    p.add_argument("checkpoint", help="a run directory (runs/mnist) or a model/checkpoint directory")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("predict", help="use a trained model: classify images (.png/.pgm/.npy), tag or score text")
    p.add_argument("checkpoint", help="a run directory, a model directory, or a file written by `convrnn export`")
    p.add_argument("files", nargs="+", help="inputs: image files for image recipes, text for text recipes")
    p.add_argument("--top", type=_at_least(1), default=3, help="how many classes to show per file")
    p.add_argument("--stream", action="store_true",
                   help="tag each text word by word as it arrives, each tag once final (look-ahead taggers)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("export", help="write a trained model as ONNX or a torch.export program, with its contract")
    p.add_argument("checkpoint", help="a run directory or a model directory")
    p.add_argument("--format", default="onnx", choices=["onnx", "pt2"], help="onnx (default) or pt2 (torch.export)")
    p.add_argument("--out", default=None, help="the file to write (default RUN/model.FORMAT, with --stream "
                   "RUN/stream.FORMAT); its contract goes beside it as FILE.json")
    p.add_argument("--stream", action="store_true",
                   help="write the stream's chunk step (state in and out) for `convrnn listen FILE` (keyword-causal)")
    p.add_argument("--chunk-ms", type=float, default=None,
                   help="with --stream: input per chunk, rounded to whole output steps (default 20)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("build-core", help="build the compiled C++ kernels now (a deployment then never compiles "
                       "at its first request)")
    p.set_defaults(func=_cmd_build_core)

    p = sub.add_parser("listen", help="stream a signal through a trained run chunk by chunk: keyword detections "
                                      "as they happen, or tags of text word by word")
    p.add_argument("checkpoint", help="a run directory or a model directory (keyword, keyword-causal, tagging)")
    p.add_argument("source", help="a WAV file (text file for a tagger), or - for standard input: raw 16-bit "
                                  "mono PCM at the model's rate (arecord -f S16_LE -c 1 -r RATE -t raw), or text")
    p.add_argument("--chunk-ms", type=float, default=None, help="audio pushed per step, in ms (default 20)")
    p.add_argument("--threshold", type=float, default=None, help="keyword probability that counts (default 0.5)")
    p.add_argument("--hold-ms", type=float, default=None,
                   help="at most one detection per this many ms: one word (default 500)")
    p.add_argument("--approximate", action="store_true", default=None,
                   help="stream a detector that is not causal anyway, running statistics standing in for the clip's")
    p.add_argument("--backend", default=None,
                   help="python (default) or native: each chunk step in one compiled call (a causal detector, "
                        "a look-ahead tagger)")
    p.set_defaults(func=_cmd_listen)

    p = sub.add_parser("sample", help="generate text from a trained language model, streamed as it is drawn")
    p.add_argument("checkpoint", help="a run directory (runs/shakespeare) or a model directory")
    p.add_argument("--prompt", default="", help="text to continue (default: start a new document)")
    # ≥ 1 here: a command asked for no text is a mistake (convrnn.generate.sample accepts 0: an empty continuation)
    p.add_argument("--length", type=_at_least(1), default=500, help="how many tokens to generate, ≥ 1 (default 500)")
    p.add_argument("--temperature", type=float, default=1.0, help="τ > 0: < 1 safer, > 1 wilder (default 1)")
    p.add_argument("--top-k", type=int, default=None, help="draw only among the k most probable tokens")
    p.add_argument("--top-p", type=float, default=None, help="draw only within the nucleus of probability p")
    p.add_argument("--greedy", action="store_true", help="always take the most probable token")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one)")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("embed", help="query trained word vectors: nearest words, analogies a − b + c")
    p.add_argument("checkpoint", help="a word2vec run directory (runs/word2vec) or a word2vec file (.txt/.bin)")
    p.add_argument("--similar", nargs="+", default=[], metavar="WORD", help="words whose nearest words to show")
    p.add_argument("--analogy", nargs=3, action="append", default=[], metavar=("A", "B", "C"),
                   help="show the best words for A − B + C (paris france spain → madrid); may repeat")
    p.add_argument("--top", type=_at_least(1), default=10, help="how many words per query (default 10)")
    p.add_argument("--method", default="3cosadd", choices=["3cosadd", "3cosmul"], help="analogy scoring")
    p.add_argument("--restrict", type=_at_least(1), default=None, help="search only the N most frequent words")
    p.set_defaults(func=_cmd_embed)

    p = sub.add_parser("summary", help="per-layer table: output shape, parameters, MACs, receptive field")
    p.add_argument("model", nargs="?",
                   help="a model or recipe name (see `convrnn summary --list`) or a run/model directory")
    p.add_argument("--input-shape", default=None,
                   help="input shape without the batch, e.g. 1,28,28 (default: the model's own)")
    p.add_argument("--list", action="store_true", help="list the model names and exit")
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser("inspect", help="per-layer statistics of a trained model on a batch of validation data")
    p.add_argument("run", help="a run directory (runs/mnist) or a model directory")
    p.add_argument("--batch-size", type=int, default=64, help="validation images in the batch (default 64)")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("report", help="one self-contained HTML report of a run (curves, statistics, pictures)")
    p.add_argument("run", help="a run directory written by `convrnn train`")
    p.add_argument("--out", default=None, help="the HTML file to write (default RUN/report.html)")
    p.add_argument("--batch-size", type=int, default=64, help="validation images to inspect (default 64)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("data", help="list the real data sets, or fetch one into the cache")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="name, size, license, source and whether cached")
    fetch = actions.add_parser("fetch", help="download, verify (SHA-256) and extract a data set")
    fetch.add_argument("name", help="a data set name from `convrnn data list`")
    fetch.add_argument("--force", action="store_true", help="fetch again even if cached")
    p.set_defaults(func=_cmd_data)

    return parser


def _at_least(minimum: int) -> Any:
    """An argparse type: an int ≥ ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int ≥ {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an int ≥ {minimum}, got {value}")
        return value

    return parse


MAX_SUMMARY_ELEMENTS = 1 << 28  # one example's input: 256 Mi values (1 GiB of float32)


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise ValueError(f"--input-shape: expected integers like 1,28,28, got {text!r}") from None
    if not shape or min(shape) < 1:
        raise ValueError(f"--input-shape: expected positive integers like 1,28,28, got {text!r}")
    if math.prod(shape) > MAX_SUMMARY_ELEMENTS:
        raise ValueError(f"--input-shape: expected at most {MAX_SUMMARY_ELEMENTS} values in one example, got {text!r} "
                         f"({math.prod(shape)} values)")
    return shape


def _recipe_of_run(path: str, *, required: bool = True) -> Any:
    """The recipe a run or model directory was trained with (named in its saved config); with
    ``required=False`` None where that recipe is not registered."""
    import convrnn.recipes
    from convrnn.tasks.runs import run_config

    name = run_config(path).get("recipe", "?")
    if not required and name not in convrnn.recipes.RECIPE_NAMES:
        return None
    return convrnn.recipes.get_recipe(name)


def _cmd_train(args: argparse.Namespace) -> int:
    from convrnn.recipes import get_recipe

    if args.list:
        for line in _recipe_lines():
            print(line)
        return 0
    if args.recipe is None:
        raise ValueError("train: argument 'recipe' is missing: expected a recipe name, e.g. `convrnn train digits` "
                         "(`convrnn train --list` lists them)")
    from convrnn.training.distributed import launch

    if not args.dist_timeout > 0:  # also refuses nan
        raise ValueError(f"train: argument '--dist-timeout' expected seconds > 0, got {args.dist_timeout}")
    recipe = get_recipe(args.recipe)
    out = args.out or f"runs/{recipe.name}"
    options = {option: _train_option(recipe, option, getattr(args, option))
               for option in ("cell", "architecture", "objective") if getattr(args, option) is not None}
    launched = launch()
    if launched is not None:  # torchrun stops the other processes with SIGTERM when one fails
        signal.signal(signal.SIGTERM, _stop)
    scores = recipe.train(out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          device=args.device, resume=args.resume, progress=not args.no_progress,
                          limit=args.limit, timeout_s=args.dist_timeout, **options)
    if launched is not None and launched.rank != 0:
        return 0  # rank 0 speaks for the run
    shown = ", ".join(f"{key} {value:.4g}" for key, value in scores.items()
                      if key.startswith("test_") and isinstance(value, float))
    processes = scores.get("launch", {}).get("world_size", 1)
    print(f"{recipe.name}: {shown} in {scores.get('wall_seconds', 0):.0f} s"
          + (f" on {processes} processes" if processes > 1 else ""))
    print(f"model saved to {out}/model; scores in {out}/scores.json")
    return 0


class _Stopped(BaseException):
    """SIGTERM arrived (torchrun stopping every process because one failed): unwinds like
    KeyboardInterrupt, so files being written are removed rather than left half-written."""


def _stop(signum: int, frame: Any) -> None:
    raise _Stopped


def _train_option(recipe: Any, option: str, value: str) -> str:
    """``--<option> value``, checked against what the recipe's task kind declares it takes."""
    from convrnn.tasks import Task

    if option not in recipe.train_options:
        kinds = sorted(kind for kind, task in Task.kinds.items() if option in task.train_options)
        raise ValueError(f"--{option}: only {' and '.join(kinds)} recipes take --{option}, and "
                         f"'{recipe.name}' ({recipe.kind}) is not one")
    choices = recipe.train_options[option]
    if value.lower() not in choices:
        raise ValueError(f"--{option}: expected one of {list(choices)}, got {value!r}")
    return value.lower()


def _cmd_eval(args: argparse.Namespace) -> int:
    from convrnn.tasks import resolve_device

    recipe = _recipe_of_run(args.checkpoint)
    scores = recipe.evaluate(args.checkpoint, split=args.split, device=resolve_device(args.device, where="eval"))
    shown = ", ".join(f"{key} {value:.4g}" for key, value in scores.items())
    print(f"{recipe.name} ({args.split}): {shown}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    recipe = _recipe_of_run(args.checkpoint)
    path = recipe.export(args.checkpoint, args.out, format=args.format, stream=args.stream, chunk_ms=args.chunk_ms)
    what = ""
    if args.stream:
        from convrnn.export import read_contract

        contract = read_contract(path)
        steps, rate = contract["stream"]["chunk"], (contract.get("attributes") or {}).get("sample_rate")
        duration = f" = {1000 * steps / rate:g} ms" if rate else ""
        what = f" (the stream's chunk step: {steps} input steps{duration} a chunk, state in and out)"
    print(f"{recipe.name}: wrote {path} and its contract {path.name}.json{what}")
    return 0


def _cmd_build_core(args: argparse.Namespace) -> int:
    from convrnn.layers.recurrent._compiled import load as load_core
    from convrnn.models.word2vec.compiled import load as load_word2vec
    from convrnn.stream.native import load as load_stream

    built = {"recurrent core": load_core() is not None, "word2vec kernel": load_word2vec() is not None,
             "stream kernel": load_stream() is not None}
    for what, ok in built.items():
        print(f"{what}: {'built' if ok else 'not built'}")
    if not all(built.values()):
        raise ValueError("build-core: the compiled kernels need a C++ compiler and ninja (and CONVRNN_NO_COMPILE "
                         "unset); without them convrnn runs its pure-PyTorch paths")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    recipe = _recipe_of_run(args.checkpoint)
    if args.stream:
        import io

        recipe.require("stream", args.checkpoint)
        for line in recipe.stream(args.checkpoint, io.StringIO("\n".join(args.files))):
            print(line, flush=True)
        return 0
    for line in recipe.predict(args.checkpoint, list(args.files), top=args.top):
        print(line)
    return 0


def _cmd_listen(args: argparse.Namespace) -> int:
    recipe = _recipe_of_run(args.checkpoint)
    recipe.require("stream", args.checkpoint)
    given = {"chunk_ms": args.chunk_ms, "threshold": args.threshold, "hold_ms": args.hold_ms,
             "approximate": args.approximate, "backend": args.backend}
    options = {key: value for key, value in given.items() if value is not None}   # the kind checks what it takes
    for line in recipe.stream(args.checkpoint, args.source, **options):
        print(line, flush=True)
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    recipe = _recipe_of_run(args.checkpoint)
    recipe.require("sample", args.checkpoint)

    shown = []

    def show(piece: str) -> None:
        if not shown:  # the prompt appears only once the model has accepted it
            sys.stdout.write(args.prompt)
        shown.append(piece)
        sys.stdout.write(piece)
        sys.stdout.flush()

    recipe.sample(args.checkpoint, args.prompt, args.length, temperature=args.temperature, top_k=args.top_k,
                  top_p=args.top_p, greedy=args.greedy, seed=args.seed, callback=show)
    sys.stdout.write(("" if shown else args.prompt) + "\n")
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from pathlib import Path

    from convrnn.models.word2vec import load_word2vec_format

    if not args.similar and not args.analogy:
        raise ValueError("embed: expected at least one query, --similar WORD or --analogy A B C")
    path = Path(args.checkpoint)
    if path.is_file():
        vectors = load_word2vec_format(path, binary=path.suffix == ".bin")
    else:
        recipe = _recipe_of_run(args.checkpoint)
        recipe.require("embed", args.checkpoint)
        vectors = recipe.embed(path)
    for word in args.similar:
        found = vectors.most_similar(word, args.top, restrict=args.restrict)
        print(f"{word}: " + ", ".join(f"{w} {s:.3f}" for w, s in found))
    for a, b, c in args.analogy:
        found = vectors.analogy(a, b, c, args.top, method=args.method, restrict=args.restrict)
        print(f"{a} − {b} + {c}: " + ", ".join(f"{w} {s:.3f}" for w, s in found))
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from pathlib import Path

    from convrnn.inspect.summary import summary
    from convrnn.models import MODELS, build_model
    from convrnn.recipes import RECIPE_NAMES, get_recipe

    if args.list or args.model is None:
        for name, entry in MODELS.items():
            print(f"{name:16s} {entry.description}")
        for name in RECIPE_NAMES:
            print(f"{name:16s} recipe: {get_recipe(name).description}")
        return 0
    if args.model in MODELS:
        model, input_shape = build_model(args.model)
    elif args.model in RECIPE_NAMES:
        model, input_shape = get_recipe(args.model).summary_model()
    elif Path(args.model).exists():
        from convrnn.tasks import load_trained

        model, config = load_trained(args.model)
        input_shape = tuple(config["input_shape"])
    else:
        raise KeyError(f"unknown model {args.model!r}: not a model name {sorted(MODELS)}, "
                       f"a recipe {list(RECIPE_NAMES)}, nor an existing directory")
    if args.input_shape is not None:
        input_shape = _parse_shape(args.input_shape)
    print(summary(model, input_shape))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from convrnn.tasks.report import stats_of_run

    print(stats_of_run(args.run, batch_size=args.batch_size, recipe=_recipe_of_run(args.run, required=False)))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from convrnn.tasks.report import write_report

    recipe = _recipe_of_run(args.run, required=False)
    print(f"report written to {write_report(args.run, args.out, recipe=recipe, batch_size=args.batch_size)}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from convrnn.data.catalog import get_source
    from convrnn.data.fetch import FetchError, fetch
    from convrnn.data.listing import catalog_table

    if args.action == "list":
        print(catalog_table())
        return 0
    if args.name == "keyword":  # synthesized with espeak-ng rather than fetched
        from convrnn.data.keyword import prepare_word_banks

        print(prepare_word_banks())
        return 0
    source = get_source(args.name)
    try:
        print(fetch(source, force=args.force))
    except FetchError as error:  # the client, the network or the archive failed: not a usage error
        print(f"convrnn: error: {error}", file=sys.stderr)
        return 1
    return 0


def _rank_of_launch() -> str:
    """`` (rank R of P)`` inside a torchrun launch, else nothing."""
    rank, size = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
    return f" (rank {rank} of {size})" if rank is not None and size is not None else ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as leaving:  # --help, --version, or a usage error already printed in one line
        return leaving.code if isinstance(leaving.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return _dispatch(args)
    except Exception as error:  # the guard: nothing unforeseen reaches the user as a traceback
        if args.debug:
            raise
        where = f"convrnn {args.command}" if getattr(args, "command", None) else "convrnn"
        text = _one_line(str(error)) or "(no message)"
        print(f"{where}: error: unexpected {type(error).__name__}: {text} (run `convrnn --debug {args.command} …` "
              "for the traceback)", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    """``args.func(args)``, with the errors a user can cause, interruptions and a lost process of a
    torchrun launch each turned into one line and its exit status."""
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        if args.debug:
            raise
        print(f"convrnn: error: {_one_line(str(message))}", file=sys.stderr)
        return 2
    except FloatingPointError as error:  # NonFiniteLossError: names the step and the last good checkpoint
        if args.debug:
            raise
        print(f"convrnn: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("convrnn: interrupted", file=sys.stderr)
        return 130
    except _Stopped:
        print(f"convrnn: stopped{_rank_of_launch()}: SIGTERM (torchrun stops every process when one fails, "
              "and that one's output says why, or when torchrun itself is stopped)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except RuntimeError as error:
        from convrnn.data.rank_order import CacheRoundError
        from convrnn.training.distributed import LostRankError

        if not isinstance(error, LostRankError | CacheRoundError):
            raise
        print(f"convrnn: error: {error}", file=sys.stderr)  # another process failed: not this one's input
        if isinstance(error, LostRankError):
            # Every finally block has run (no half-written file is left), but freeing the DDP reducer
            # and the gloo/NCCL buffers that the traceback still holds can wait on the dead peer: leave now.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        return 1
    except BrokenPipeError:  # e.g. `convrnn data list | head`: the reader left, which is not an error
        # Point stdout at devnull so the interpreter's final flush does not raise again (Python docs' recipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as error:
        if args.debug or error.errno not in _DISK_ERRORS:
            raise
        where = f" '{error.filename}'" if error.filename else ""
        print(f"convrnn {args.command}: error: could not write{where}: {os.strerror(error.errno)}; the files "
              f"written before are intact (nothing half-written is ever read); free space or fix the disk, then run "
              f"the command again{' with --resume' if args.command == 'train' else ''}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())


def _one_line(message: str) -> str:
    """``message`` on one line: line breaks (and the indentation after them) become one space; the
    spaces inside a line stay as they are (a quoted input of three spaces is shown as given)."""
    return " ".join(line.strip() for line in message.strip().splitlines() if line.strip())
