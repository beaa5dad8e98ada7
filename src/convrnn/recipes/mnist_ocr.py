"""``mnist-ocr``: read strings of 1–8 handwritten digits — a CNN whose width axis becomes time, a
BiLSTM over the columns, and CTC (the seeds' "DNN Legos": CNN for local structure, LSTM for order).

Data: :class:`convrnn.data.digit_strings.DigitStrings`, fixed by data seed 0 — 100,000 training
strings of MNIST train digits, 2,000 validation strings of MNIST validation digits (model
selection), 10,000 test strings of MNIST test digits only. Canvas 32 pixels high; per digit a scale
of 0.8–1.1 (22–31 px), a random vertical offset, gaps of −6…4 px between the 28·s boxes; margins
0–6 px; canvas widths 22–288 px.

Model: :class:`convrnn.models.ocr.CRNN` — 4 × [conv 3×3 → batch norm → ReLU → max-pool] with 32, 64,
128, 128 channels (pools 2×2, 2×2, 2×1, 2×1: one time step per 4 pixel columns, height 32 → 2),
columns as time (256 features), BiLSTM 2 × 128 units per direction with lengths, dropout 0.2, CTC
head over blank + 10 digits (1.03 M parameters). CTC loss, AdamW (weight decay 1e-4), one-cycle
learning rate (max 2e-3), batch 128 (similar widths bucketed together), gradient norm clipped at 5,
3 epochs. Greedy (best-path) and prefix-beam (width 8) decoding.

Target: ≥ 97 % whole-string accuracy on the 10,000 test strings (also reported: character error
rate, Σ edit distance / Σ digits). Reached with these defaults (seed 0, one H100 shared with
another job, 100 s; validation 85.0 → 97.1 → 98.2 % over the 3 epochs): **97.20 %** of the test
strings read exactly, character error rate 0.63 % (beam width 8: 97.22 %, 0.63 %). The defaults
are a GPU job: on 2 CPU cores the 300k string presentations take over an hour; a reduced CPU run
(``--limit 30000 --epochs 3 --batch-size 32``, one thread of a shared machine, 21 min) reached
96.84 % (CER 0.71 %). More epochs were not tried.
"""

from convrnn.tasks.ocr import OCRRecipe

RECIPE = OCRRecipe(
    name="mnist-ocr",
    description="read strings of 1–8 MNIST digits: CNN → columns as time → BiLSTM → CTC",
    target="≥ 97 % whole-string accuracy on 10k held-out strings of MNIST test digits",
    data={"height": 32, "digits": (1, 8), "scale": (0.8, 1.1), "gap": (-6, 4), "margin": (0, 6)},
    sizes={"train": 100_000, "validation": 2_000, "test": 10_000},
    model_options={"height": 32, "channels": (32, 64, 128, 128), "hidden": 128, "layers": 2, "dropout": 0.2},
    epochs=3,
    batch_size=128,
    lr=2e-3,
)
