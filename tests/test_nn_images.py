"""Image-restoration data: offline, split without overlap, seeded, fast, correctly degraded."""
import time

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from cosim.nn import images


def test_train_and_test_images_are_disjoint_by_name_and_content():
    assert not set(images.TRAIN_IMAGES) & set(images.TEST_IMAGES)
    for train_name in images.TRAIN_IMAGES:
        for test_name in images.TEST_IMAGES:
            a, b = images.load_gray(train_name), images.load_gray(test_name)
            assert a.shape != b.shape or not np.allclose(a, b), (train_name, test_name)


def test_test_patches_come_only_from_test_images():
    rng = np.random.default_rng(0)
    patches = images.sample_patches("test", 20, 16, rng, augment=False)
    windows = [sliding_window_view(im, (16, 16)) for im in images.split_images("test")]
    for patch in patches[:, 0]:
        assert any(_contains(w, patch) for w in windows)


def _contains(windows, patch):
    """Whether any window equals the patch; candidates are positions matching its first pixel."""
    rows, cols = np.nonzero(windows[:, :, 0, 0] == patch[0, 0])
    return bool((windows[rows, cols] == patch).all(axis=(1, 2)).any())


def test_images_load_offline_as_gray_unit_range():
    for name in images.TRAIN_IMAGES + images.TEST_IMAGES:
        image = images.load_gray(name)
        assert image.ndim == 2 and image.dtype == np.float64
        assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.02


def test_sampling_is_deterministic_under_a_seed():
    a = images.denoising_pairs("train", 50, np.random.default_rng(7), patch=24)
    b = images.denoising_pairs("train", 50, np.random.default_rng(7), patch=24)
    c = images.denoising_pairs("train", 50, np.random.default_rng(8), patch=24)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_denoising_pairs_have_the_requested_noise():
    noisy, clean = images.denoising_pairs("train", 400, np.random.default_rng(1), patch=40)
    assert noisy.shape == clean.shape == (400, 1, 40, 40)
    assert 0.0 <= clean.min() and clean.max() <= 1.0
    assert (noisy - clean).std() == pytest.approx(25 / 255, rel=0.01)
    assert images.psnr(clean, noisy) == pytest.approx(20.17, abs=0.1)  # 20 log10(255 / 25)


def test_super_resolution_pairs_are_bicubic_downsampled():
    low, high = images.super_resolution_pairs("test", 30, np.random.default_rng(2), patch=40)
    assert low.shape == (30, 1, 20, 20) and high.shape == (30, 1, 40, 40)
    assert 0.0 <= low.min() and low.max() <= 1.0
    # a 2x downsample is close to the 2x2 block average and keeps the mean brightness
    block_mean = high.reshape(30, 1, 20, 2, 20, 2).mean(axis=(3, 5))
    assert np.abs(low - block_mean).mean() < 0.02
    assert low.mean() == pytest.approx(high.mean(), abs=0.01)


def test_metrics():
    rng = np.random.default_rng(3)
    clean = rng.random((4, 1, 32, 32))
    assert images.ssim(clean, clean) == pytest.approx(1.0)
    assert images.psnr(clean, clean + 0.1) == pytest.approx(20.0)
    noise = rng.normal(0, 1, clean.shape)
    scores = [images.ssim(clean, clean + sigma * noise) for sigma in (0.05, 0.2, 0.5)]
    assert scores[0] > scores[1] > scores[2] and scores[2] < 0.5


def test_data_set_construction_is_fast():
    images.load_gray("astronaut")  # decoding the first PNG happens once per process
    start = time.perf_counter()
    images.denoising_pairs("train", 3000, np.random.default_rng(4), patch=40)
    assert time.perf_counter() - start < 2.0


def test_sr_bicubic_input_feeds_the_upsampled_patch_and_scores_it_as_the_baseline():
    from cosim.nn.tasks import load_task
    from cosim.specs.workload import DataSpec
    data = DataSpec(dataset="sr_x2", patch=16, train_patches=4, test_patches=3, sr_input="bicubic")
    task = load_task(data, (1, 16, 16))
    assert task.x_train.shape == (4, 1, 16, 16) and task.x_test.shape == task.y_test.shape
    assert task.baseline == task.scores(task.x_test)


def test_window_std_equals_the_direct_std_of_every_window():
    image = np.random.default_rng(1).random((23, 19)) ** 3 + 5.0   # offset: centring must cope
    direct = sliding_window_view(image, (6, 6)).std(axis=(2, 3))
    np.testing.assert_allclose(images.window_std(image, 6), direct, rtol=1e-9, atol=1e-12)


def test_min_patch_std_keeps_only_textured_patches_of_the_split():
    unfiltered = images.sample_patches("test", 200, 16, np.random.default_rng(2), augment=False)
    assert (unfiltered.std(axis=(1, 2, 3)) < 0.1).mean() > 0.2    # the test photos have flat areas
    patches = images.sample_patches("test", 200, 16, np.random.default_rng(2), augment=False, min_std=0.1)
    assert patches.std(axis=(1, 2, 3)).min() >= 0.1 - 1e-12
    windows = [sliding_window_view(im, (16, 16)) for im in images.split_images("test")]
    assert all(any(_contains(w, p) for w in windows) for p in patches[:20, 0])


def test_an_unreachable_texture_threshold_is_a_clear_error():
    with pytest.raises(images.NoEligiblePatch, match=r"no 34x34 patch of the 'test' images has a pixel std >= 0.45"):
        images.sample_patches("test", 4, 34, np.random.default_rng(0), min_std=0.45)


def test_cli_names_the_workload_and_field_of_an_unreachable_texture_threshold(tmp_path, capsys):
    from cosim.cli import main
    code = main(["run", "eapu_paper_srx2", "--set", "workload.data.min_patch_std=0.45", "--steps", "1",
                 "--methods", "ideal", "--jobs", "1", "--quiet", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "eapu_paper_srx2: data.min_patch_std: no 34x34 patch of the 'test' images has a pixel std >= 0.45" in err
