"""``keyword-causal``: the ``keyword`` detector's streaming variant, trained on the same clips.

``KeywordSpotter(causal=True)``: log-mel frames that end at their own time (no look-ahead), per-band
normalisation by running statistics (``RunningNorm``, time constant 2 s) instead of the clip's, and
convolutions that read only the past (padding ``(d·(k − 1), 0)``: the same 61-frame receptive field,
all of it behind the frame). It streams with zero look-ahead and its streamed outputs equal its
offline ones (``convrnn listen RUN file.wav``); its test accuracy is the price of causality, to be
read beside ``keyword``'s. Same data, optimizer and schedule as ``keyword``.
"""

from convrnn.data.keyword import KeywordClips
from convrnn.tasks.keyword import KeywordRecipe

RECIPE = KeywordRecipe(
    name="keyword-causal",
    description="'welcome' detector, causal (streams with no look-ahead, equal to offline)",
    dataset=KeywordClips,
    model_options={"causal": True},
    epochs=20,
    batch_size=64,
    lr=3e-3,
    target="test accuracy beside keyword's offline detector (≥ 95 % on held-out voices)",
)
