#!/usr/bin/env bash
# Retakes the README's screenshots of the built site, docs/site-index.png and docs/site-tutorial.png, with
# headless Chromium (1200×1400, as the first ones were): build the site first (README "Documentation"), then
#   docs/screenshots.sh [SITE]        # SITE defaults to docs/_build/html
set -euo pipefail
cd "$(dirname "$0")/.."
site=${1:-docs/_build/html}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome) || {
    echo "docs/screenshots.sh: error: no Chromium on PATH (apt-get install -y chromium)" >&2; exit 2; }
[ -f "$site/index.html" ] || { echo "docs/screenshots.sh: error: no built site at $site" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work" docs/.partial-*.png' EXIT
for pair in "index.html:site-index.png" "tutorials/convolution.html:site-tutorial.png"; do
    page=${pair%%:*} shot=${pair#*:}
    "$browser" --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars --window-size=1200,1400 \
        --user-data-dir="$work/profile" --virtual-time-budget=15000 --screenshot="$PWD/docs/.partial-$shot" \
        "file://$(cd "$site" && pwd)/$page" >/dev/null 2>&1
    [ -s "docs/.partial-$shot" ] || { echo "docs/screenshots.sh: error: Chromium wrote no screenshot of $page" >&2; exit 1; }
    mv "docs/.partial-$shot" "docs/$shot"   # renamed in place: replaced whole, never half-written
    echo "docs/$shot  ← $site/$page"
done
