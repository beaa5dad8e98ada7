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

Target: mAP@0.5 ≥ 0.95 on the held-out test canvases (COCO's definitions, 101-point interpolation).
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
