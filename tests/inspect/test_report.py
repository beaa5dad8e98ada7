"""The HTML report: every section of an image run and a language-model run, self-contained, and —
opened in headless Chromium — every section present, every image decoded, no script errors."""

import json
import re
import shutil
import subprocess

import pytest
import torch

from convrnn.cli import main
from convrnn.data.text import CharTokenizer, Vocabulary
from convrnn.inspect.report import Section, image_tag, language_model_sections, render_report
from convrnn.models import build_model
from convrnn.models.language_model import LanguageModel
from convrnn.tasks.report import build_report, stats_of_run, write_report
from convrnn.training.checkpoint import save_model

TEXT = 'KING. "Come (quickly) now," he said.\nQUEEN. "No."\n' * 6
IMAGE_SECTIONS = ["run", "curves", "summary", "layer-statistics", "filters", "feature-maps", "layers"]
LM_SECTIONS = ["run", "curves", "summary", "layer-statistics", "gradients-through-time", "cells-over-text",
               "samples", "embeddings"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _log_and_scores(run):
    (run / "log.csv").write_text("epoch,train_loss,val_loss,val_accuracy,lr\n1,2.0,1.8,0.3,0.001\n2,1.2,1.1,0.6,0.002\n")
    (run / "scores.json").write_text(json.dumps({"test_accuracy": 0.61, "epochs": 2}))


@pytest.fixture
def image_run(tmp_path):
    torch.manual_seed(0)
    model, shape = build_model("digits-cnn")
    run = tmp_path / "digits"
    save_model(run / "model", model, {"recipe": "digits", "model": "digits-cnn", "model_options": {},
                                      "input_shape": list(shape), "classes": [str(i) for i in range(10)]})
    _log_and_scores(run)
    batch = (torch.randn(16, *shape), torch.arange(16) % 10)
    return run, batch


@pytest.fixture
def language_model_run(tmp_path):
    torch.manual_seed(0)
    tokenizer = CharTokenizer()
    vocabulary = Vocabulary.build([tokenizer.tokenize(TEXT)])
    options = {"embedding_size": 8, "hidden_size": 12, "num_layers": 1, "cell": "lstm"}
    model = LanguageModel(len(vocabulary), **options)
    run = tmp_path / "tiny-lm"
    save_model(run / "model", model, {"recipe": "tiny-lm", "model_options": options, "unit": "char",
                                      "vocabulary": vocabulary.to_json(), "tokenizer": tokenizer.to_json()})
    _log_and_scores(run)
    return run


def _sections(page):
    return re.findall(r'<section id="([^"]+)"', page)


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium binary on PATH (install Debian's `chromium`: apt-get install -y chromium)")


def _open(path, tmp_path, *extra):
    profile = tmp_path / f"profile{len(list(tmp_path.iterdir()))}"
    result = subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, path.as_uri()],
                            capture_output=True, text=True, timeout=120)
    return result.stdout


def _status(path, tmp_path):
    dom = _open(path, tmp_path, "--virtual-time-budget=10000", "--dump-dom")
    match = re.search(r'<div id="report-status" data-ok="(\w+)">([^<]*)<', dom)
    assert match, f"no status element in the dumped DOM: {dom[-500:]!r}"
    return match.group(1), match.group(2)


def test_image_report_has_every_section_and_only_inline_images(image_run):
    run, batch = image_run
    page = build_report(run, batch=batch)
    assert _sections(page) == IMAGE_SECTIONS
    assert "16×3×3×1 + 16 = 160" in page                # the summary / statistics tables
    assert "max activation" in page                     # the ConvNetJS panel
    assert not re.search(r'(src|href)="(?!data:|#)', page)  # nothing to fetch: opens offline


def test_language_model_report_reads_the_given_text(language_model_run):
    page = build_report(language_model_run, text=TEXT)
    assert _sections(page) == LM_SECTIONS
    for feature in ("inside quotes", "position in line", "inside parentheses", "line start"):
        assert feature in page
    assert page.count('class="cell-text"') == 4


def test_features_constant_in_the_text_are_named_not_searched():
    torch.manual_seed(0)
    text = TEXT.replace("(", "").replace(")", "")
    vocabulary = Vocabulary.build([list(text)])
    model = LanguageModel(len(vocabulary), 4, 6, 1)
    sections = language_model_sections(model, text, lambda t: vocabulary.encode(list(t)), vocabulary.decode,
                                       sample_length=5)
    (cells,) = [section.body for section in sections if section.key == "cells-over-text"]
    assert cells.count('class="cell-text"') == 3
    assert "Constant in this text, so not searched: inside parentheses" in cells


def test_report_renders_in_headless_chromium(image_run, language_model_run, tmp_path):
    run, batch = image_run
    image_page = write_report(run, tmp_path / "pages" / "image.html", batch=batch)
    assert main(["report", str(language_model_run), "--out", str(tmp_path / "pages" / "lm.html")]) == 0
    for page in (image_page, tmp_path / "pages" / "lm.html"):
        ok, text = _status(page, tmp_path)
        assert ok == "yes", text
        assert re.search(r"images (\d+)/\1, errors 0", text), text
    shot = tmp_path / "shot.png"
    _open(image_page, tmp_path, "--hide-scrollbars", "--window-size=1200,1600", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_self_check_reports_a_broken_image_and_a_script_error(tmp_path):
    broken = Section("a", "broken image", '<img src="data:image/png;base64,AAAA">')
    failing = Section("b", "script error", "<script>undefined_function();</script>")
    good = Section("c", "fine", image_tag(b"\x89PNG\r\n\x1a\n" + b"not really"))
    for sections in ([broken], [failing], [good]):
        path = tmp_path / "bad.html"
        path.write_text(render_report("bad", sections))
        ok, text = _status(path, tmp_path)
        assert ok == "no", text


def test_inspect_command_prints_statistics(language_model_run, capsys):
    assert main(["inspect", str(language_model_run)]) == 0
    out = capsys.readouterr().out
    assert "act max" in out and "LSTMCell" not in out and "loss" in out
    assert main(["inspect", str(language_model_run.parent / "missing")]) == 2


def test_without_matplotlib_plots_become_a_note_naming_the_extra(image_run, monkeypatch):
    import sys

    from convrnn.inspect import report
    from convrnn.inspect.curves import plot_curves

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'convrnn\[viz\]'"):
        plot_curves({"train_loss": torch.ones(2).numpy()})
    monkeypatch.setattr(report, "has_matplotlib", lambda: False)
    run, batch = image_run
    page = build_report(run, batch=batch)
    assert "pip install &#x27;convrnn[viz]&#x27;" in page and _sections(page) == IMAGE_SECTIONS


def test_a_run_of_another_kind_gets_its_config_scores_and_curves(tmp_path):
    run = tmp_path / "other"
    save_model(run / "model", torch.nn.Linear(2, 2), {"recipe": "something-else", "model": "not-a-model"})
    _log_and_scores(run)
    assert _sections(build_report(run)) == ["run", "curves"]
    with pytest.raises(ValueError, match="neither an image nor a language-model run"):
        stats_of_run(run)
    assert main(["inspect", str(run)]) == 2


def test_a_signal_run_gets_the_matched_filter_view(tmp_path):
    torch.manual_seed(0)
    options = {"n_mels": 16, "channels": (8, 8)}
    model, shape = build_model("keyword-spotter", **options)
    run = tmp_path / "keyword"
    save_model(run / "model", model, {"recipe": "keyword", "model": "keyword-spotter", "model_options": options,
                                      "input_shape": list(shape), "classes": ["other", "keyword"]})
    _log_and_scores(run)
    page = build_report(run, batch=(torch.randn(3, *shape), torch.tensor([0, 1, 0])))
    assert _sections(page) == [*IMAGE_SECTIONS[:-1], "matched-filter", "layers"]
    assert "the strongest response to the first example" in page


def test_a_word_vector_run_shows_where_its_words_lie(tmp_path):
    from convrnn.models.word2vec import save_word2vec_format

    run = tmp_path / "word2vec"
    save_model(run / "model", torch.nn.Linear(2, 2), {"recipe": "word2vec"})
    words = [f"w{i}" for i in range(40)]
    save_word2vec_format(run / "vectors.bin", words, torch.randn(40, 8), binary=True)
    page = build_report(run)
    assert _sections(page) == ["run", "embeddings"]
    assert "of 20 frequent words" in page               # the 20 most frequent are left out
