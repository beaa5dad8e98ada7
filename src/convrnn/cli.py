"""The ``convrnn`` command: one sub-command per verb, each a thin shell over the library.

Every sub-command is a function ``_cmd_<verb>(args) -> int`` registered in ``_build_parser``.
Errors a user can cause (bad arguments, missing files, unknown recipes) are raised as
``ValueError``/``TypeError``/``FileNotFoundError``/``KeyError`` and printed as one line,
``convrnn: error: ...``, with exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from convrnn import __version__

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, KeyError, NotADirectoryError)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convrnn",
        description="Convolutional and recurrent neural networks: train, inspect and use them.",
    )
    parser.add_argument("--version", action="version", version=f"convrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("summary", help="per-layer table: output shape, parameters, MACs, receptive field")
    p.add_argument("model", help="a recipe or model name (see `convrnn summary --list`) or a checkpoint")
    p.add_argument("--input-shape", default=None,
                   help="input shape without the batch, e.g. 1,28,28 (default: the model's own)")
    p.add_argument("--list", action="store_true", help="list the model names and exit")
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser("data", help="list the real data sets, or fetch one into the cache")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="name, size, license, source and whether cached")
    fetch = actions.add_parser("fetch", help="download, verify (SHA-256) and extract a data set")
    fetch.add_argument("name", help="a data set name from `convrnn data list`")
    fetch.add_argument("--force", action="store_true", help="fetch again even if cached")
    p.set_defaults(func=_cmd_data)

    return parser


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise ValueError(f"--input-shape: expected integers like 1,28,28, got {text!r}") from None
    if not shape or min(shape) < 1:
        raise ValueError(f"--input-shape: expected positive integers like 1,28,28, got {text!r}")
    return shape


def _cmd_summary(args: argparse.Namespace) -> int:
    from convrnn.inspect.summary import summary
    from convrnn.models import MODELS, build_model

    if args.list:
        for name, entry in MODELS.items():
            print(f"{name:16s} {entry.description}")
        return 0
    model, input_shape = build_model(args.model)
    if args.input_shape is not None:
        input_shape = _parse_shape(args.input_shape)
    print(summary(model, input_shape))
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from convrnn.data.catalog import get_source
    from convrnn.data.fetch import FetchError, fetch
    from convrnn.data.listing import catalog_table

    if args.action == "list":
        print(catalog_table())
        return 0
    source = get_source(args.name)
    try:
        print(fetch(source, force=args.force))
    except FetchError as error:  # the client, the network or the archive failed: not a usage error
        print(f"convrnn: error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"convrnn: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("convrnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
