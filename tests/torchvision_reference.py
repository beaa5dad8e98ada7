"""torchvision's classic CNNs as recorded data, for tests/models/test_classic_cnns.py.

torchvision 0.28.0 installs beside torch 2.13.0 but fails at import (its compiled ops are built for
another torch), so the tests cannot build its modules. Its model definitions are pure Python, so
this file's ``__main__`` built them once, from the wheel, with the compiled parts stubbed out:

    pip download torchvision==0.28.0 --no-deps -d /tmp/tv      # sha256 7e80f543…c38560ee6b9ae38c571a4002
    unzip -q /tmp/tv/torchvision-0.28.0-*.whl 'torchvision/*' -d /tmp/tv/src
    PYTHONPATH=src python tests/torchvision_reference.py /tmp/tv/src > tests/models/torchvision_models.json

and recorded, per model, every state-dict entry's name and shape and the logits torchvision's module
gives for :func:`fill`'s weights on :func:`example_input` — so a test loads the same weights by name
into convrnn's model and compares. Nothing here is read from the network at test time.
"""

from __future__ import annotations

import json
import sys
import types
import zlib
from pathlib import Path

import torch
from torch import Tensor, nn

REFERENCE = Path(__file__).parent / "models" / "torchvision_models.json"

# convrnn model name → (torchvision builder, its keyword arguments, input side, training mode)
CASES: dict[str, tuple[str, dict[str, object], int, bool]] = {
    "alexnet": ("alexnet", {}, 224, False),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}, 224, False),
    # training mode with the auxiliary heads: batch statistics, dropout off so that it is deterministic
    "googlenet-aux": ("googlenet", {"aux_logits": True, "init_weights": False, "dropout": 0.0, "dropout_aux": 0.0},
                      96, True),
    **{f"vgg{depth}{suffix}": (f"vgg{depth}{suffix.replace('-', '_')}", {}, 64, False)
       for depth in (11, 13, 16, 19) for suffix in ("", "-bn")},
}
LOGITS_KEPT = 16


def fill(model: nn.Module) -> None:
    """Deterministic weights by name, the same in any module with the same state-dict names: each
    entry from a generator seeded with the CRC-32 of its name — weights N(0, 2/fan_in), biases
    N(0, 0.1²), batch norm γ = 1 + N(0, 0.1²), β and running means N(0, 0.1²), running variances
    in [0.5, 1.5)."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
            noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float64)
            if name.endswith("running_var"):
                values = 0.5 + torch.rand(tensor.shape, generator=generator, dtype=torch.float64)
            elif tensor.dim() >= 2:
                values = noise * (2.0 / tensor[0].numel()) ** 0.5
            elif name.endswith("weight"):   # batch norm γ
                values = 1.0 + 0.1 * noise
            else:
                values = 0.1 * noise
            tensor.copy_(values.to(tensor.dtype))


def example_input(side: int) -> Tensor:
    """Two images ``(2, 3, side, side)`` of standard normal pixels (seed 0)."""
    return torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(0))


def outputs(model: nn.Module, side: int, training: bool) -> list[Tensor]:
    """The model's outputs on :func:`example_input`, a list (GoogLeNet's training outputs are three)."""
    model.train(training)
    with torch.no_grad():
        out = model(example_input(side))
    return list(out) if isinstance(out, tuple) else [out]


def _torchvision_models(root: Path) -> types.ModuleType:
    """torchvision's ``models`` sub-package from an unpacked wheel, without its compiled ops."""
    def package(name: str, path: Path | None = None, **attributes: object) -> types.ModuleType:
        module = types.ModuleType(name)
        if path is not None:
            module.__path__ = [str(path)]
        module.__dict__.update(attributes)
        sys.modules[name] = module
        return module

    package("torchvision", root / "torchvision")
    package("torchvision.utils", _log_api_usage_once=lambda obj: None)
    package("torchvision.transforms", root / "torchvision" / "transforms")
    package("torchvision.transforms._presets", ImageClassification=object)
    package("torchvision._internally_replaced_utils", load_state_dict_from_url=None)
    models = package("torchvision.models", root / "torchvision" / "models")
    import importlib

    for name in ("alexnet", "vgg", "googlenet"):
        models.__dict__.update(vars(importlib.import_module(f"torchvision.models.{name}")))
    return models


def main(root: str) -> None:
    models = _torchvision_models(Path(root))
    record: dict[str, object] = {"torchvision": "0.28.0", "torch": torch.__version__, "models": {}}
    for name, (builder, options, side, training) in CASES.items():
        model = getattr(models, builder)(weights=None, **options)
        fill(model)
        record["models"][name] = {
            "builder": builder, "options": options, "side": side, "training": training,
            "parameters": sum(p.numel() for p in model.parameters()),
            "state_dict": [[key, list(value.shape)] for key, value in model.state_dict().items()],
            "outputs": [{"first": out[:, :LOGITS_KEPT].tolist(), "sum": out.sum(1).tolist(),
                         "norm": out.norm(dim=1).tolist()} for out in outputs(model, side, training)],
        }
    json.dump(record, sys.stdout, indent=None)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
