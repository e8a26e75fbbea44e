"""The embedded spekpy spectrum table agrees with spekpy itself."""

from __future__ import annotations

import numpy as np

from screening.physics import spectra


def test_table_matches_spekpy() -> None:
    for kv in (80, 140):
        direct = spectra._spekpy_binned.__wrapped__(kv, spectra.SPEKPY_TABLE_ANODE_DEG)
        np.testing.assert_allclose(spectra.SPEKPY_TABLE[kv], direct, rtol=1e-5)


def test_table_is_used_and_other_angles_fall_back() -> None:
    np.testing.assert_array_equal(spectra._binned(140, 12.0), np.asarray(spectra.SPEKPY_TABLE[140]))
    assert set(spectra.SPEKPY_TABLE) == set(range(80, 210, 10))
    other = spectra._binned(140, 16.0)  # not tabulated: computed by spekpy
    assert other.shape == (len(spectra.ENERGY_GRID_KEV),) and not np.allclose(
        other, spectra.SPEKPY_TABLE[140]
    )
