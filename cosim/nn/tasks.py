"""What a workload learns and how it is scored: training and test arrays plus the test metrics.

digits: scikit-learn's 8x8 digits, shaped to the network's input (flat for an MLP, (1, 8, 8) for a
conv net or ViT), scored by accuracy. denoise / sr_x2: patches of scikit-image's photographs
(cosim.nn.images), scored by PSNR (dB) and SSIM; the report also shows what the untrained input
scores (the noisy patch, or the bicubic upsampling of the low-resolution patch).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from skimage import transform

from cosim.nn import images
from cosim.nn.data import load_digits_split


@dataclass(frozen=True)
class Task:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    metric: str                                       # headline metric's name in the summary
    baseline: dict = field(default_factory=dict)      # scores of the input itself (images)

    @property
    def classification(self) -> bool:
        return self.metric == "test_accuracy"

    @property
    def input_nonnegative(self) -> bool:
        """True when no input value is negative (the first layer's MVMs then need one phase)."""
        return bool((self.x_train >= 0).all() and (self.x_test >= 0).all())

    def scores(self, outputs: np.ndarray) -> dict[str, float]:
        """Test metrics of the network's `outputs` for x_test (headline metric first)."""
        if self.classification:
            return {"test_accuracy": float((outputs.argmax(axis=1) == self.y_test).mean())}
        return image_scores(self.y_test, outputs)


def image_scores(reference: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    return {"test_psnr_db": images.psnr(reference, estimate), "test_ssim": images.ssim(reference, estimate)}


class DataError(ValueError):
    """A workload's data section asks for data that cannot be drawn (message names the field)."""


def load_task(data, input_shape: tuple[int, ...]) -> Task:
    """The data of a workload's `data` section (cosim.specs.workload.DataSpec)."""
    if data.dataset == "digits":
        d = load_digits_split(data.test_fraction, data.split_seed)
        shape = (-1, *input_shape)
        return Task("digits", d.x_train.reshape(shape), d.y_train, d.x_test.reshape(shape), d.y_test,
                    "test_accuracy")
    try:
        return _image_task(data)
    except images.NoEligiblePatch as exc:
        raise DataError(f"data.min_patch_std: {exc}") from None


def _image_task(data) -> Task:
    rng = np.random.default_rng(data.split_seed)
    splits = (("train", data.train_patches), ("test", data.test_patches))
    if data.dataset == "denoise":
        pairs = [images.denoising_pairs(split, count, rng, patch=data.patch, sigma=data.noise_sigma,
                                        min_std=data.min_patch_std) for split, count in splits]
        reference_input = pairs[1][0]
    else:
        pairs = [images.super_resolution_pairs(split, count, rng, patch=data.patch, scale=2,
                                               min_std=data.min_patch_std) for split, count in splits]
        if data.sr_input == "bicubic":
            pairs = [(bicubic_upsample(low, 2), high) for low, high in pairs]
        reference_input = pairs[1][0] if data.sr_input == "bicubic" else bicubic_upsample(pairs[1][0], 2)
    (x_tr, y_tr), (x_te, y_te) = pairs
    return Task(data.dataset, x_tr, y_tr, x_te, y_te, "test_psnr_db",
                baseline=image_scores(y_te, reference_input))


def bicubic_upsample(low: np.ndarray, scale: int) -> np.ndarray:
    """(N, 1, h, w) -> (N, 1, h*scale, w*scale) by bicubic interpolation: the classic SR baseline."""
    high = transform.rescale(low[:, 0], scale, order=3, channel_axis=0, anti_aliasing=False)
    return np.clip(high, 0.0, 1.0)[:, None]
