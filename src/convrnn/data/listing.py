"""The table ``convrnn data list`` prints: every catalog entry, its size, source and license."""

from __future__ import annotations

import os

from convrnn.data.cache import cache_dir
from convrnn.data.catalog import CATALOG
from convrnn.data.fetch import is_fetched

_REGISTRY_NAMES = {"pypi": "PyPI", "debian": "Debian", "npm": "npm"}


def catalog_table(cache: str | os.PathLike[str] | None = None) -> str:
    """One row per data set: name, archive size, cached or not, registry package, license."""
    header = ("NAME", "SIZE", "CACHED", "SOURCE", "LICENSE")
    rows = [header]
    for name, source in CATALOG.items():
        rows.append((
            name,
            f"{source.size / 1e6:.1f} MB",
            "yes" if is_fetched(source, cache=cache) else "no",
            f"{_REGISTRY_NAMES[source.registry]} {source.requirement}",
            source.license,
        ))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    lines = ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)),
                        row[-1]]) for row in rows]
    location = cache if cache is not None else cache_dir()
    return "\n".join([
        *lines, "",
        "keyword  (synthesized here with espeak-ng, `sudo apt-get install espeak-ng`; "
        "`convrnn data fetch keyword` prepares it, about 45 s)",
        f"cache: {location} (set $CONVRNN_CACHE to move it)",
    ])
