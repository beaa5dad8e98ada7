"""``mnist-detect``: find every digit on 64×64 canvases of 1–4 MNIST digits at varied scales, with its box and class.

Data: :class:`convrnn.data.digit_boxes.DigitBoxes` — each digit cropped to its ink, resized to a
height of 14–36 pixels (aspect kept) and placed where its box covers at most 10 % of another's;
its box is the rectangle it was drawn into. Train canvases from the 50k MNIST train digits,
validation canvases (model selection) from the 10k validation digits, test canvases from the
10k test digits only; canvas i of a split depends on (data seed 0, split, i) alone.

Model: :class:`convrnn.models.yolo.YOLO` — widths 8-16-32-96 (stride 8: an 8×8 grid on a
64×64 canvas), three anchors, one 3×3 conv after each stride-2 conv; per cell and anchor a box,
an objectness and 10 class scores. :class:`convrnn.models.yolo_loss.YOLOLoss`, AdamW, one-cycle
learning rate (peak 3e-3), batch 32, 16,000 train canvases × 6 epochs (3,000 steps); the epoch
with the least validation loss is kept.

Model: 0.13 M parameters, 14.7 M multiply-adds per canvas, receptive field 45 pixels at the grid.

Target: mAP@0.5 ≥ 0.95 on the held-out test canvases (COCO's definitions, 101-point interpolation).

Measured with these defaults (seed 0, one thread at ``nice 10`` on the 2-core machine shared with
other jobs, 1068 s): mAP@0.5 **0.956**, mAP@0.5:0.95 0.660, mAP@0.75 0.806 on the 2,000
test canvases; AP@0.5 per digit 0.944 (9) … 0.969 (3); validation loss
10.1, 3.5, 2.0, 1.5, 1.2, 1.2 over the 6 epochs. Reduced runs, same test canvases::

    train canvases × epochs   steps   mAP@0.5   mAP@0.5:0.95   mAP@0.75   wall time
    6,000 × 5                   940     0.755       0.420         0.417     2,091 s (≈ 20 jobs on 2 cores)
    12,000 × 6                2,250     0.940       0.620         0.748       917 s

The 12,000 × 6 run: AP@0.5 per digit 0.923 (2) … 0.964 (8); validation loss 11.9, 4.6, 2.7, 1.9,
1.7, 1.6 over its epochs, still falling.

Pictures: ``RUN/detections-test.png`` (written by train and ``convrnn eval``) shows the first 8
test canvases with their detections of score ≥ 0.5.
"""

from convrnn.data.digit_boxes import CANVAS_SIZE, DIGIT_CLASSES, DigitBoxes
from convrnn.tasks.detection import DetectRecipe

RECIPE = DetectRecipe(
    name="mnist-detect",
    description="YOLO-style grid detector finds MNIST digits at varied scales on 64×64 canvases "
                "(target mAP@0.5 ≥ 0.95)",
    dataset=DigitBoxes,
    classes=DIGIT_CLASSES,
    input_shape=(1, CANVAS_SIZE, CANVAS_SIZE),
    sizes={"train": 16_000, "validation": 1_000, "test": 2_000},
    model_options={"channels": (8, 16, 32, 96), "convs_per_scale": 1},
    epochs=6,
    batch_size=32,
    lr=3e-3,
    target="mAP@0.5 ≥ 0.95 on 2,000 held-out canvases of test-set digits",
)
