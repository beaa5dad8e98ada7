"""``keyword``: the seed 003 "welcome detector" — is the word "welcome" somewhere in a noisy clip?

Data: 1.5 s clips synthesized with espeak-ng (Debian package ``espeak-ng``): "welcome" at a random
offset among 1–3 filler words (near misses such as "well", "come", "become", "welfare" included),
white noise at 5–30 dB SNR; 4,000 train clips from 24 voices, 500 validation from 2, 1,000 test from
6 voices never heard in training. Model: log-mel (40 bands, 10 ms hop) → 4 dilated 1-D convolutions
over time → 1×1 conv to scores → global max over time (shift-invariant). AdamW, one-cycle (max
3e-3), batch 64, 20 epochs.

Target: detect the keyword on held-out voices, and keep detecting it wherever it is moved in the
clip (``test_shift_min_accuracy``: the worst detection rate over five keyword positions).
Reached (seed 0, 1 thread of a shared 2-core machine, 18 min): 98.3 % test accuracy on the 6 unheard
voices; the keyword moved alone to the start, 1/4, 1/2, 3/4 and end of the clip is detected in
93.3 / 93.5 / 94.3 / 93.1 / 94.1 % of the positive test clips — flat, as global max pooling promises.
"""

from convrnn.data.keyword import KeywordClips
from convrnn.tasks.keyword import KeywordRecipe

RECIPE = KeywordRecipe(
    name="keyword",
    description="'welcome' detector on synthesized speech, held-out voices",
    dataset=KeywordClips,
    epochs=20,
    batch_size=64,
    lr=3e-3,
    target="≥ 95 % test accuracy on held-out voices; detection holds at every keyword position",
)
