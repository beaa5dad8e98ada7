"""``fashion-mnist``: a small ResNet (batch norm, residual connections) on Fashion-MNIST.

Data: Fashion-MNIST from Debian's ``dataset-fashion-mnist`` — 50k train / 10k validation / 10k test.
Model: 3×3 stem (16) → 3 stages × 1 basic block (16, 32, 64 channels) → global average pool → FC
(78 k parameters, 9.3 M multiply-adds per image). AdamW (weight decay 5e-4), one-cycle learning rate
(max 3e-3), batch 128, shifts of ±2 pixels, label smoothing 0.1, 15 epochs.

Target: ≥ 92 % test accuracy. Reached: 92.34 % on the full 10k test set (best validation 92.86 %),
seed 0, 15 epochs, 9 min on 2 threads of a 2-core machine.
"""

from convrnn.data import FashionMNIST
from convrnn.tasks.image import ImageRecipe

RECIPE = ImageRecipe(
    name="fashion-mnist",
    description="small ResNet on Fashion-MNIST (target ≥ 92 % test accuracy)",
    dataset=FashionMNIST,
    model="resnet",
    model_options={"width": 16, "blocks": (1, 1, 1)},
    epochs=15,
    batch_size=128,
    lr=3e-3,
    optimizer="adamw",
    weight_decay=5e-4,
    scheduler="onecycle",
    random_shift=2,
    label_smoothing=0.1,
    target="≥ 92 % test accuracy",
)
