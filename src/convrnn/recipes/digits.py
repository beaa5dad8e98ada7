"""``digits``: the seed CNN sized for scikit-learn's 1,797 8×8 digits — trains in seconds (smoke test).

Data: 1,257 train / 180 validation / 360 test. Model: conv 16/32 @ 3×3 'same' with 2×2 max-pools,
FC 64. Adam, one-cycle (max 3e-3), batch 32, 30 epochs.

Target: a smoke test that trains in seconds. Reached: 93.3 % test accuracy in 4 s (seed 0; the test
split is the last 360 digits, written by people absent from training, so it is harder than a random split).
"""

from convrnn.data import Digits
from convrnn.tasks.image import ImageRecipe

RECIPE = ImageRecipe(
    name="digits",
    description="seed CNN on sklearn's 8×8 digits (seconds; smoke test)",
    dataset=Digits,
    model="digits-cnn",
    epochs=30,
    batch_size=32,
    lr=3e-3,
    optimizer="adam",
    scheduler="onecycle",
    target="smoke test: trains in seconds, ≥ 92 % test accuracy",
)
