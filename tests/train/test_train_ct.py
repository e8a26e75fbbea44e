"""CT trainer settings: background subsampling is validated before any work starts."""

from __future__ import annotations

import pytest

from screening.train.ct import CtTrainConfig, train_ct


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_background_fraction_outside_0_1_is_refused(tmp_path, fraction):
    cfg = CtTrainConfig(out=str(tmp_path / "m"), work_dir=str(tmp_path / "w"), background_fraction=fraction)
    with pytest.raises(ValueError, match=r"background_fraction must be in \(0, 1\]"):
        train_ct(cfg, [], 0, [], {})
    assert not (tmp_path / "w").exists()  # refused before touching the work dir


def test_default_background_fraction_is_recorded_in_the_config():
    assert CtTrainConfig(out="m", work_dir="w").background_fraction == pytest.approx(0.35)
