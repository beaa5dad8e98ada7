"""``mnist-segment``: label every pixel of 64×64 canvases of 1–4 MNIST digits with its digit or background.

Data: :class:`convrnn.data.digit_canvas.DigitCanvases` — each canvas holds 1–4 whole 28×28 MNIST
digits at random positions (at most 10 % of a digit's stroke pixels on strokes already drawn),
composed by pixel-wise maximum. A pixel is labelled with a digit's class where that digit's
intensity is ≥ 128/255 (where several are, the brightest; ties → the digit drawn last), else 10
(background). 20,000 train canvases from the 50k MNIST train digits, 1,000 validation canvases
(model selection) from the 10k validation digits, 2,000 test canvases from the 10k test digits
only; canvas i of a split depends on (data seed 0, split, i) alone.

Model: :class:`convrnn.models.fcn.FCN` with widths 16-32-64-128 — a 3×3 stem, three stages of
(3×3 stride-2 conv + 3×3 conv), then three stages of (3×3 stride-2 transposed conv to the skip's
size + the encoder map of that scale, 3×3 conv), a 1×1 conv to 11 scores per pixel; batch norm +
ReLU after every conv; 0.44 M parameters, 86 M multiply-adds per canvas. Pixel-wise
cross-entropy, AdamW (weight decay 1e-4), one-cycle learning rate (peak 3e-3), batch 32,
10 epochs (6,250 steps); the epoch with the best validation mean IoU is kept.

Target: ≥ 85 % mean IoU over the 11 classes (one confusion matrix over every pixel of the 2,000
test canvases; see :mod:`convrnn.training.metrics_segmentation`).

Measured with these defaults (seed 0, one H100 shared with another job, 168 s): **92.5 %** mean
IoU on the 2,000 test canvases, pixel accuracy 99.70 %; per class: background 99.9 %, digits
89.6 % (1) … 94.0 % (0); best validation mean IoU 90.3 %. On 2 CPU cores the same run is
estimated at ≈ 18 minutes (8.6 ms per canvas on one thread). Reduced CPU runs (``--limit`` /
``--epochs``; one thread of a shared machine), same test canvases:

    train canvases × epochs   steps   test mean IoU   pixel accuracy   wall time
    5,000 × 3                   471        63.8 %          98.3 %         3 min 12 s
    10,000 × 3                  939        83.2 %          99.25 %        9 min 16 s

Pictures: ``RUN/segmentation-test.png`` (written by train and ``convrnn eval``) shows input /
truth / prediction for the first 8 test canvases.
"""

from convrnn.data.digit_canvas import CANVAS_SIZE, SEGMENT_CLASSES, DigitCanvases
from convrnn.tasks.segmentation import SegmentRecipe

RECIPE = SegmentRecipe(
    name="mnist-segment",
    description="FCN labels each pixel of 64×64 MNIST digit canvases (target ≥ 85 % mean IoU, 11 classes)",
    dataset=DigitCanvases,
    classes=SEGMENT_CLASSES,
    input_shape=(1, CANVAS_SIZE, CANVAS_SIZE),
    sizes={"train": 20_000, "validation": 1_000, "test": 2_000},
    model_options={"channels": (16, 32, 64, 128)},
    epochs=10,
    batch_size=32,
    lr=3e-3,
    target="≥ 85 % mean IoU over the 11 classes on 2,000 held-out canvases of test-set digits",
)
