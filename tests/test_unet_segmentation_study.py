"""The separability study's 3-D U-Net segmentation (datasets/unet_segmentation.py) on known shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def us(datasets_script):
    return datasets_script("unet_segmentation")


def _touching_blocks(rng: np.random.Generator, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 'brick' (1400 MHU) pressed against a 'book' (1100 MHU) and lying on 'clothes' (label 3, 600 MHU)."""
    labels = np.zeros((24, 24, 40), np.int32)
    labels[2:8, 2:22, 2:38] = 3
    labels[8:20, 5:17, 4 + shift : 18 + shift] = 1
    labels[8:20, 5:17, 18 + shift : 34] = 2
    mhu = np.choose(labels, [0.0, 1400.0, 1100.0, 600.0]).astype(np.float32)
    return mhu + rng.normal(0, 30, mhu.shape).astype(np.float32), labels


def test_core_target_falls_to_zero_at_contacts_and_ignores_background_labels(us) -> None:
    _, labels = _touching_blocks(np.random.default_rng(0))
    obj, core = us.targets(labels, background=(3,))
    assert obj.dtype == np.uint8 and not obj[labels == 3].any() and obj[labels == 1].all()
    clip = us.CORE_CLIP
    assert core[14, 11, 17] == pytest.approx(1 / clip) and core[14, 11, 18] == pytest.approx(1 / clip)
    assert core[8, 11, 10] == pytest.approx(1 / clip)  # the face on the (background) clothes
    assert core[14, 11, 11] == pytest.approx(1.0)  # deep inside the brick
    assert core[14, 11, 15] == pytest.approx(3 / clip)  # two voxels in from the contact at x = 17
    assert not core[obj == 0].any()
    _, core_all = us.targets(labels)
    assert core_all[labels == 3].max() > 0  # without background labels the clothes are an object


def test_grow_cores_parts_two_cores_and_keeps_a_coreless_sheet(us) -> None:
    obj = np.zeros((12, 12, 30), bool)
    obj[2:10, 2:10, 2:20] = True  # one blob in the object mask...
    core = np.zeros_like(obj)
    core[4:8, 4:8, 4:9] = True  # ...with two cores
    core[4:8, 4:8, 13:18] = True
    obj[2:10, 2:10, 24] = True  # a one-voxel sheet: no core
    segments = list(us.grow_cores(obj, core, min_voxels=20, grow=4))
    assert len(segments) == 3
    total = 0
    for box, mask in segments:
        x0, y0, z0, x1, y1, z1 = box
        assert mask.shape == (z1 - z0, y1 - y0, x1 - x0)
        assert obj[z0:z1, y0:y1, x0:x1][mask].all()
        total += int(mask.sum())
    assert total == int(obj.sum())  # every object voxel lands in exactly one segment
    sheet = [m for b, m in segments if b[0] == 24]
    assert len(sheet) == 1 and sheet[0].sum() == 64
    assert list(us.grow_cores(obj, core, min_voxels=10_000)) == []
    assert list(us.grow_cores(np.zeros_like(obj), core, min_voxels=1)) == []


def test_predict_keeps_any_volume_shape(us) -> None:
    import torch

    torch.manual_seed(0)
    net = us.build_net((4, 8, 8, 8))
    obj_p, core = us.predict(np.full((13, 9, 21), 1000.0, np.float32), net)
    assert obj_p.shape == core.shape == (13, 9, 21)
    assert obj_p.dtype == np.float32 and obj_p.min() >= 0 and core.max() <= 1


def test_a_trained_net_parts_touching_objects_a_density_window_merges(us, tmp_path: Path) -> None:
    import torch
    from scipy import ndimage as ndi

    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    bags = [
        us.training_bag(*_touching_blocks(rng, shift), threat_ids=(1,), background=(3,))
        for shift in (-2, 0, 2)
    ]
    net = us.build_net((8, 16, 16, 16))
    losses = us.fit(net, bags, steps=400, rng=rng, batch=2, patch=24, lr=5e-3)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    path = tmp_path / "unet.pt"
    us.save_net(path, net, us.UNetSegParams(min_voxels=50), {"steps": 400})
    net, params = us.load_net(path)
    assert params.min_voxels == 50

    test_mhu, test_labels = _touching_blocks(np.random.default_rng(2), shift=1)
    assert ndi.label(test_mhu > 500)[1] == 1  # any density window sees one blob
    segments = list(us.segment(test_mhu, net, params))
    owners = []
    for box, mask in segments:
        x0, y0, z0, x1, y1, z1 = box
        own = test_labels[z0:z1, y0:y1, x0:x1][mask]
        owner = int(np.bincount(own, minlength=4).argmax())
        owners.append(owner)
        assert (own == owner).mean() > 0.9  # one object each, not joined, and not the clothes
        if owner in (1, 2):
            assert (own == owner).sum() >= 0.8 * (test_labels == owner).sum()  # and most of it
    assert sorted(o for o in owners if o in (1, 2)) == [1, 2]
    assert 3 not in owners  # the clothes are background
