"""The cases the compile and export tests run, shared by them and by the README's "Export and
deploy" table (tests/test_readme.py builds the table from these lists, so it says what is tested,
nothing else)."""

from convrnn.layers.recurrent import QRNN, RNN, MinGRU, MinLSTM
from convrnn.recipes import RECIPE_NAMES, get_recipe

# name → (what the README calls it, the layer)
RECURRENT = {
    "lstm_stack": ("`LSTM`, 2 layers, bidirectional", lambda: RNN("lstm", 3, 4, num_layers=2, bidirectional=True)),
    "lstm_peephole": ("`LSTM(peephole=True)`", lambda: RNN("lstm", 3, 4, peephole=True)),
    "lstm_layer_norm": ("`LSTM(layer_norm=True, peephole=True)`",
                        lambda: RNN("lstm", 3, 4, layer_norm=True, peephole=True)),
    "gru_before": ("`GRU` (seeds' reset before), bidirectional", lambda: RNN("gru", 3, 4, bidirectional=True)),
    "gru_after": ("`GRU(reset=\"after\")` (torch.nn's)", lambda: RNN("gru", 3, 4, reset="after")),
    "gru_layer_norm": ("`GRU(layer_norm=True)`", lambda: RNN("gru", 3, 4, layer_norm=True)),
    "mgu": ("`MGU`", lambda: RNN("mgu", 3, 4)),
    "mgu_layer_norm": ("`MGU(layer_norm=True)`", lambda: RNN("mgu", 3, 4, layer_norm=True)),
    "elman_relu": ("`Elman(nonlinearity=\"relu\")`", lambda: RNN("elman", 3, 4, nonlinearity="relu")),
    "elman_layer_norm": ("`Elman(layer_norm=True)`", lambda: RNN("elman", 3, 4, layer_norm=True)),
    "elman_leaky_relu": ("`Elman(nonlinearity=\"leaky_relu\", negative_slope=0.1)`",
                         lambda: RNN("elman", 3, 4, nonlinearity="leaky_relu", negative_slope=0.1)),
    "gated": ("`Gated` (seed 001's gated unit), bidirectional", lambda: RNN("gated", 3, 4, bidirectional=True)),
    "gated_layer_norm": ("`Gated(layer_norm=True)`", lambda: RNN("gated", 3, 4, layer_norm=True)),
    "gru_candidate": ("`GRU(z_multiplies=\"candidate\")` (seed 004's z)",
                      lambda: RNN("gru", 3, 4, z_multiplies="candidate")),
    "jordan_softmax": ("`Jordan(decision=\"softmax\")`",
                       lambda: RNN("jordan", 3, 4, decision="softmax", output_size=3)),
    "lookahead": ("bidirectional `GRU(lookahead=2)`", lambda: RNN("gru", 3, 4, bidirectional=True, lookahead=2)),
    "zoneout_eval": ("`LSTM(zoneout=0.3)` (eval)", lambda: RNN("lstm", 3, 4, zoneout=0.3).eval()),
    "mingru": ("`MinGRU`, bidirectional", lambda: MinGRU(3, 4, bidirectional=True)),
    "minlstm": ("`MinLSTM`", lambda: MinLSTM(3, 4)),
    "qrnn_window": ("`QRNN(pooling=\"ifo\", window=2)`", lambda: QRNN(3, 4, pooling="ifo", window=2)),
}
LAYERS = {name: factory for name, (_, factory) in RECURRENT.items()}

# An ONNX export takes 10–40 s here: two layers in CI, every layer under -m slow.
ONNX_IN_CI = {"lstm_layer_norm", "mingru"}
# initial states as flat inputs (h0, c0), round-tripped through onnxruntime
STATE_INPUTS = {"lstm_peephole"}
# … and as a torch.export program: every layer, these in CI, the rest under -m slow
STATE_INPUTS_PT2 = {"lstm_stack", "gru_after", "mingru"}


def support_table() -> list[str]:
    """The README's table of the recurrent layers, one row per tested case."""
    rows = ["| layer | `torch.compile(fullgraph=True)` | `torch.export`, N and T dynamic | ONNX in onnxruntime, "
            "any N and T | initial states as inputs, any N and T |", "|---|---|---|---|---|"]
    for name, (label, _) in RECURRENT.items():
        rows.append(f"| {label} | yes, with lengths, = eager | yes, with lengths, = eager | "
                    f"yes{'' if name in ONNX_IN_CI else ' (`-m slow`)'}, with lengths | "
                    f"yes{'' if name in STATE_INPUTS_PT2 else ' (`-m slow`)'} (`torch.export`)"
                    f"{', yes (ONNX)' if name in STATE_INPUTS else ''} |")
    return rows


# recipes (tests/recipes/test_compile_and_export.py; each kind's trained run exported predicts like
# the run in its own test file)
NOT_EXPORTABLE = {"word2vec": "its product is the vectors file (word2vec format), not a network to call",
                  "g2p": "decoding is a data-dependent search (greedy stops at end-of-word; beam search)"}
NOT_COMPILED = {"word2vec": "trained by its own C++ kernel, not a network"}
# a few in CI (conv net, spectrogram + conv over time, recurrent over tokens, recurrent over
# values); all of them with `-m slow` (the CRNN exports to ONNX in test_mnist_ocr.py, in CI, and the
# spoken-digits recognizer, a CRNN over a spectrogram, in test_spoken_digits.py; mnist-detect's
# network — up to YOLO's raw grid, non-maximum suppression runs in predict — exports to ONNX and .pt2
# in test_mnist_detect.py, in CI)
IN_CI = {"digits", "keyword", "shakespeare", "sunspots"}


def export_config(shape) -> dict:
    """The parts of a saved config the export signatures read, for an untrained network."""
    return {"input_shape": list(shape), "normalize": {"mean": [0.0] * shape[-1]}}


def recipe_table() -> list[str]:
    """The README's table of the recipes' networks."""
    rows = ["| recipe | `torch.compile(fullgraph=True)` | `convrnn export --format onnx` | `--format pt2` |",
            "|---|---|---|---|"]
    for name in sorted(RECIPE_NAMES):
        recipe = get_recipe(name)
        compiled = f"no: {NOT_COMPILED[name]}" if name in NOT_COMPILED else "yes, = eager with gradients"
        if name in NOT_EXPORTABLE:
            onnx = pt2 = f"no: {NOT_EXPORTABLE[name]}"
        else:
            model, shape = recipe.summary_model()
            network = getattr(model, "model", None) or getattr(model, "tagger", None) or model
            refused = recipe.export_signature(network, export_config(shape)).refused
            onnx = "yes" if "onnx" not in refused else f"no: {refused['onnx']}"
            pt2 = "yes" if "pt2" not in refused else f"no: {refused['pt2']}"
        rows.append(f"| {name} | {compiled} | {onnx} | {pt2} |")
    return rows
