"""``mnist-detect``: find every digit on 64×64 canvases of 1–4 MNIST digits at varied scales, with its box and class.

Data: :class:`convrnn.data.digit_boxes.DigitBoxes` — each digit cropped to its ink, resized to a
height of 14–36 pixels (aspect kept) and placed where its box covers at most 10 % of another's;
its box is the rectangle it was drawn into. Train canvases from the 50k MNIST train digits,
validation canvases (model selection) from the 10k validation digits, test canvases from the
10k test digits only; canvas i of a split depends on (data seed 0, split, i) alone.

Model: :class:`convrnn.models.yolo.YOLO` — widths 8-16-32-96 (stride 8: an 8×8 grid on a
64×64 canvas), three anchors, one 3×3 conv after each stride-2 conv; per cell and anchor a box,
an objectness and 10 class scores. :class:`convrnn.models.yolo_loss.YOLOLoss`, AdamW, one-cycle
learning rate; the epoch with the least validation loss is kept.

Model: 0.13 M parameters, 14.7 M multiply-adds per canvas, receptive field 45 pixels at the grid.

Target: mAP@0.5 ≥ 0.95 on the held-out test canvases (COCO's definitions, 101-point interpolation).

Not yet measured with these defaults (5,000 steps; the 2-core machine was shared by about 20
jobs, so a run at ``nice 10`` got a tenth of a core). A reduced run (``--limit 6000 --epochs 5``,
940 steps of 32, seed 0, one thread, 2,091 s), scored on the full 2,000 test canvases::

    mAP@0.5 0.755   mAP@0.5:0.95 0.420   mAP@0.75 0.417   AP@0.5 per digit 0.705 (5) … 0.794 (1)

with validation loss still falling (14.6, 7.6, 5.2, 4.2, 4.0 over its 5 epochs), and a
class-agnostic AP@0.5 of 0.874 on the first 500 test canvases: undertrained, not at its ceiling.

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
    sizes={"train": 20_000, "validation": 1_000, "test": 2_000},
    model_options={"channels": (8, 16, 32, 96), "convs_per_scale": 1},
    epochs=8,
    batch_size=32,
    lr=3e-3,
    target="mAP@0.5 ≥ 0.95 on 2,000 held-out canvases of test-set digits",
)
