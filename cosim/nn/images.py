"""Image-restoration data from the photographs bundled with scikit-image (nothing is downloaded).

Training patches come only from TRAIN_IMAGES and test patches only from TEST_IMAGES, so a test
score is measured on pictures the network never saw. All images are grayscale floats in [0, 1];
patch arrays are (N, 1, size, size). Every random choice comes from the caller's Generator.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from skimage import color, data, metrics, transform

# Photographs that ship inside the scikit-image wheel (verified with 0.26; no pooch download).
# data.cat is the same picture as data.chelsea, so only one of them may appear. Microscopy and
# astronomy images are left out: they are mostly flat background.
TRAIN_IMAGES = ("astronaut", "brick", "chelsea", "coffee", "grass", "gravel", "rocket")
TEST_IMAGES = ("camera", "clock", "coins", "moon", "text")
SPLITS = {"train": TRAIN_IMAGES, "test": TEST_IMAGES}

DENOISE_SIGMA = 25.0 / 255.0  # standard DnCNN benchmark noise level on [0, 1] images


@lru_cache(maxsize=None)
def load_gray(name: str) -> np.ndarray:
    """A bundled image as read-only float64 grayscale in [0, 1]."""
    image = getattr(data, name)()
    if image.ndim == 3:
        image = color.rgb2gray(image[..., :3])
    elif image.dtype == np.uint8:
        image = image / 255.0
    image = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    image.setflags(write=False)
    return image


def split_images(split: str) -> list[np.ndarray]:
    if split not in SPLITS:
        raise KeyError(f"unknown split {split!r}; use 'train' or 'test'")
    return [load_gray(name) for name in SPLITS[split]]


def _dihedral(patches: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flip/rotation (one of 8) per patch, grouped by transform to stay vectorised."""
    choice = rng.integers(0, 8, len(patches))
    out = patches.copy()
    for t in range(8):
        group = patches[choice == t]
        group = np.rot90(group, t % 4, axes=(1, 2))
        out[choice == t] = group[:, :, ::-1] if t >= 4 else group
    return out


class NoEligiblePatch(ValueError):
    """No window of a split reaches the asked texture threshold."""


def window_std(image: np.ndarray, size: int) -> np.ndarray:
    """Pixel standard deviation of every size x size window of `image`, shape (H - size + 1,
    W - size + 1), from box sums of the mean-centred image (centring keeps the variance's
    difference of squares from cancelling)."""
    centred = image - image.mean()

    def box_sum(a: np.ndarray) -> np.ndarray:
        c = np.pad(a, ((1, 0), (1, 0))).cumsum(axis=0).cumsum(axis=1)
        return c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]

    mean = box_sum(centred) / size**2
    return np.sqrt(np.maximum(box_sum(centred**2) / size**2 - mean**2, 0.0))


def sample_patches(split: str, count: int, size: int, rng: np.random.Generator,
                   augment: bool = True, min_std: float = 0.0) -> np.ndarray:
    """`count` square patches, (count, 1, size, size). Every patch position of every image in the
    split is equally likely; `augment` applies a random flip/rotation to each patch.

    `min_std` > 0 keeps only the positions whose window has a pixel std >= min_std, each of them
    equally likely: texture-aware patch sampling as in SamplingAug (Wang et al., BMVC 2021) and
    Soh & Cho (arXiv 2207.01075), which drop flat SR patches that carry no learning signal.
    Raises NoEligiblePatch when no window of the split qualifies."""
    images = split_images(split)
    eligible = [None if min_std <= 0 else np.flatnonzero(window_std(im, size) >= min_std) for im in images]
    counts = np.array([(im.shape[0] - size + 1) * (im.shape[1] - size + 1) if e is None else len(e)
                       for im, e in zip(images, eligible)])
    if counts.sum() == 0:
        raise NoEligiblePatch(f"no {size}x{size} patch of the {split!r} images has a pixel std >= {min_std:g}")
    which = rng.choice(len(images), size=count, p=counts / counts.sum())
    patches = np.empty((count, size, size))
    for i, image in enumerate(images):
        chosen = np.flatnonzero(which == i)
        windows = sliding_window_view(image, (size, size))
        rows, cols = _positions(rng, windows.shape[:2], eligible[i], len(chosen))
        patches[chosen] = windows[rows, cols]
    if augment:
        patches = _dihedral(patches, rng)
    return patches[:, None]


def _positions(rng: np.random.Generator, grid: tuple[int, int], eligible: np.ndarray | None,
               n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` uniform window positions (rows, cols) on `grid`, or among the flat `eligible` ones."""
    if eligible is None:
        return rng.integers(0, grid[0], n), rng.integers(0, grid[1], n)
    if n == 0:
        return np.empty(0, int), np.empty(0, int)
    return np.unravel_index(rng.choice(eligible, n), grid)


def denoising_pairs(split: str, count: int, rng: np.random.Generator, patch: int = 40,
                    sigma: float = DENOISE_SIGMA, clip: bool = False,
                    min_std: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) patches with additive white Gaussian noise of std `sigma`. The noisy input
    is not clipped by default (the standard AWGN benchmark), so it can leave [0, 1] slightly.
    `min_std`: see sample_patches."""
    clean = sample_patches(split, count, patch, rng, min_std=min_std)
    noisy = clean + rng.normal(0.0, sigma, clean.shape)
    return (np.clip(noisy, 0.0, 1.0) if clip else noisy), clean


def downsample(high: np.ndarray, scale: int = 2) -> np.ndarray:
    """Bicubic (order 3) downsampling with anti-aliasing of (N, 1, H, W) patches, clipped to
    [0, 1] because cubic splines overshoot at edges."""
    low = transform.rescale(high[:, 0], 1.0 / scale, order=3, anti_aliasing=True,
                            channel_axis=0, clip=False)
    return np.clip(low, 0.0, 1.0)[:, None]


def super_resolution_pairs(split: str, count: int, rng: np.random.Generator, patch: int = 40,
                           scale: int = 2, min_std: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): high-resolution patches (count, 1, patch, patch) and their bicubic
    downsampled versions (count, 1, patch / scale, patch / scale). `min_std` (of the
    high-resolution patch): see sample_patches."""
    if patch % scale:
        raise ValueError(f"patch {patch} is not a multiple of scale {scale}")
    high = sample_patches(split, count, patch, rng, min_std=min_std)
    return downsample(high, scale), high


def _as_images(batch: np.ndarray) -> np.ndarray:
    """(N, 1, H, W), (N, H, W) or (H, W) -> (N, H, W)."""
    batch = np.asarray(batch, dtype=np.float64)
    if batch.ndim == 4:
        batch = batch[:, 0]
    return batch[None] if batch.ndim == 2 else batch


def psnr(reference: np.ndarray, estimate: np.ndarray, data_range: float = 1.0) -> float:
    """Mean over images of the peak signal-to-noise ratio in dB (skimage.metrics)."""
    pairs = zip(_as_images(reference), _as_images(estimate))
    return float(np.mean([metrics.peak_signal_noise_ratio(r, e, data_range=data_range)
                          for r, e in pairs]))


def ssim(reference: np.ndarray, estimate: np.ndarray, data_range: float = 1.0) -> float:
    """Mean over images of the structural similarity (skimage.metrics, 7x7 window)."""
    ref, est = _as_images(reference), _as_images(estimate)
    return float(metrics.structural_similarity(ref, est, data_range=data_range, channel_axis=0))
