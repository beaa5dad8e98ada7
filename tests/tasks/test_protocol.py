"""The task protocol: every recipe is an instance of a registered task kind that declares what it
offers; `train` checks the overrides, seeds and hands the kind a run; an undeclared capability is
refused in one line naming the kinds that have it."""

from dataclasses import dataclass
from typing import Any

import pytest
import torch

from convrnn.recipes import RECIPE_NAMES, get_recipe
from convrnn.tasks import CAPABILITIES, LanguageModelRecipe, Task


@dataclass(frozen=True)
class Probe(Task):
    """A task kind of no recipe (no ``kind`` of its own, so it is not registered): ``fit`` returns
    what the protocol handed it."""

    name: str = "probe"
    description: str = "records its run"
    target: str = ""
    epochs: int = 3
    batch_size: int = 8
    lr: float = 0.1

    def fit(self, run: Any, **options: Any) -> dict[str, Any]:
        return {"run": run, "options": options, "draw": torch.rand(1).item()}

    @classmethod
    def rebuild(cls, config: dict[str, Any]) -> torch.nn.Module:
        if config.get("model") != "linear":
            raise ValueError(f"expected model 'linear', got {config.get('model')!r}")
        return torch.nn.Linear(2, 2)

    def evaluate(self, run: Any, split: str = "test", device: str = "cpu") -> dict[str, float]:
        return {}

    def predict(self, run: Any, inputs: list[str], top: int = 3) -> list[str]:
        return []

    def summary_model(self) -> tuple[torch.nn.Module, tuple[int, ...]]:
        return torch.nn.Linear(2, 2), (2,)


def test_every_recipe_is_an_instance_of_a_registered_task_kind():
    for name in RECIPE_NAMES:
        recipe = get_recipe(name)
        assert isinstance(recipe, Task) and Task.kinds[recipe.kind] is type(recipe), name
        assert recipe.name == name and recipe.description and recipe.target
        assert recipe.capabilities <= set(CAPABILITIES)
        for capability in recipe.capabilities:
            assert callable(getattr(recipe, capability)), (name, capability)
    assert {get_recipe(name).kind for name in RECIPE_NAMES} == set(Task.kinds)  # every kind has a recipe
    assert "probe" not in Task.kinds and Probe.kind == ""


def test_a_kind_missing_part_of_the_protocol_cannot_be_made():
    @dataclass(frozen=True)
    class Incomplete(Task):
        name: str = "x"
        description: str = ""
        target: str = ""

        def fit(self, run: Any) -> dict[str, Any]:
            return {}

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


def test_a_capability_outside_the_list_is_refused_when_the_kind_is_defined():
    with pytest.raises(TypeError, match=r"capabilities expected names in \['embed', 'export', 'sample', 'stream'\], "
                                        r"got \['fly'\]"):
        type("Flying", (Probe,), {"capabilities": frozenset({"fly"})})


def test_an_undeclared_capability_is_refused_in_one_line_naming_the_kinds_that_have_it():
    digits = get_recipe("digits")
    assert not digits.can("sample") and get_recipe("shakespeare").can("sample")
    with pytest.raises(ValueError) as refused:
        digits.require("sample", "runs/digits")
    message = str(refused.value)
    assert message == ("sample: 'runs/digits' holds a digits model of the image task kind, which cannot generate "
                       "text; task kinds that can: language-model")
    get_recipe("word2vec").require("embed")  # declared: no error
    with pytest.raises(ValueError, match="run on a live signal chunk by chunk; task kinds that can: keyword, tagging"):
        digits.require("stream")
    with pytest.raises(ValueError, match=r"argument 'capability' expected one of \["):
        digits.can("fly")


def test_train_options_are_declared_with_their_values():
    from convrnn.models.language_model import CELL_NAMES
    from convrnn.tasks.word_vectors import Word2VecRecipe

    assert LanguageModelRecipe.train_options == {"cell": CELL_NAMES}
    assert Word2VecRecipe.train_options == {"architecture": ("cbow", "skipgram"),
                                            "objective": ("negative", "hs", "hs+negative")}
    assert all(not get_recipe(name).train_options for name in RECIPE_NAMES
               if get_recipe(name).kind not in ("language-model", "word-vectors"))


def test_train_resolves_the_overrides_seeds_and_hands_fit_a_run(tmp_path):
    result = Probe().train(tmp_path / "out", lr=0.5, seed=7, limit=4, progress=False, colour="blue")
    run = result["run"]
    assert run.out == tmp_path / "out" and run.name == "probe"
    assert (run.settings.epochs, run.settings.batch_size, run.settings.lr) == (3, 8, 0.5)
    assert (run.settings.seed, run.settings.limit, run.settings.device, run.settings.progress) == (7, 4, "cpu", False)
    assert run.given == {"epochs": None, "batch_size": None, "lr": 0.5, "limit": 4}
    assert result["options"] == {"colour": "blue"}


def test_train_seeds_every_generator_before_fit(tmp_path):
    drawn = Probe().train(tmp_path, seed=3)["draw"]
    torch.manual_seed(3)
    assert drawn == torch.rand(1).item()


@pytest.mark.parametrize(("options", "message"), [
    ({"epochs": 0}, "train: argument 'epochs' expected an int ≥ 1, got 0"),
    ({"lr": -1.0}, "train: argument 'lr' expected a positive finite number, got -1.0"),
    ({"limit": 0}, "train: argument 'limit' expected an int ≥ 1, got 0"),
    ({"device": "toaster"}, "train: argument 'device' expected a device name such as 'cpu'"),
])
def test_bad_overrides_are_refused_before_fit(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        Probe().train(tmp_path, **options)
    assert not any(tmp_path.iterdir())


def test_a_trained_run_loads_back_through_the_kind(tmp_path):
    from convrnn.training.checkpoint import save_model

    model = torch.nn.Linear(2, 2)
    save_model(tmp_path / "run" / "model", model, {"recipe": "probe", "model": "linear"})
    loaded, config = Probe.load_model(tmp_path / "run")
    assert config["model"] == "linear" and not loaded.training
    assert torch.equal(loaded.weight, model.weight)
    save_model(tmp_path / "other" / "model", model, {"recipe": "probe", "model": "conv"})
    with pytest.raises(ValueError, match=r"other/model': expected model 'linear', got 'conv'"):
        Probe.load_model(tmp_path / "other")
    with pytest.raises(FileNotFoundError, match="holds no 'cnn' model"):
        Probe.load_model(tmp_path / "run", "cnn")
    with pytest.raises(FileNotFoundError, match="no such run or model directory"):
        Probe.load_model(tmp_path / "missing")


@dataclass(frozen=True)
class SingleProcessProbe(Probe):
    """A probe that trains in one process however it is launched, like word2vec."""

    data_parallel = False
    parallelism = "its own threads already use every core"


@pytest.mark.parametrize("rank", [0, 1])
def test_a_kind_that_is_not_data_parallel_trains_on_rank_0_alone_and_says_so(tmp_path, monkeypatch, capsys, rank):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1")  # never contacted: no process group is made
    for name, value in {"RANK": rank, "WORLD_SIZE": 2, "LOCAL_RANK": rank, "LOCAL_WORLD_SIZE": 2}.items():
        monkeypatch.setenv(name, str(value))
    scores = SingleProcessProbe().train(tmp_path, progress=False)
    if rank:
        assert scores == {} and capsys.readouterr().err == ""
        return
    settings = scores["run"].settings
    assert (settings.world_size, settings.backend, settings.batch_size, settings.per_rank_batch) == (1, None, 8, 8)
    assert capsys.readouterr().err == ("convrnn: probe () trains in one process: its own threads already use every "
                                       "core; rank 0 trains it alone and the other 1 process(es) have nothing to do\n")
