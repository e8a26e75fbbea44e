"""The embedded attenuation table equals xraydb and covers every material; other energies use xraydb."""

from __future__ import annotations

import numpy as np

from screening.physics import materials
from screening.physics.attenuation_table import ENERGIES_KEV, MASS_ATTENUATION_CM2_G, build_table
from screening.physics.spectra import ENERGY_GRID_KEV


def test_table_is_on_the_spectra_grid_and_covers_every_material():
    assert tuple(round(float(e), 4) for e in ENERGY_GRID_KEV) == ENERGIES_KEV
    assert set(MASS_ATTENUATION_CM2_G) == set(materials.MATERIALS)


def test_table_matches_xraydb():
    fresh = build_table()
    for name, row in MASS_ATTENUATION_CM2_G.items():
        np.testing.assert_allclose(row, fresh[name], rtol=1e-12, err_msg=name)


def test_linear_attenuation_uses_the_table_on_the_grid_and_xraydb_elsewhere(monkeypatch):
    materials._mass_attenuation_cached.cache_clear()
    calls = []
    real = materials._formula_mass_attenuation.__wrapped__

    def spy(formula, energies):
        calls.append(formula)
        return real(formula, energies)

    monkeypatch.setattr(materials, "_formula_mass_attenuation", spy)
    try:
        on_grid = materials.linear_attenuation("water", ENERGY_GRID_KEV)
        assert calls == []
        np.testing.assert_allclose(on_grid, np.array(MASS_ATTENUATION_CM2_G["water"]) * 1.0 / 10.0)
        off_grid = materials.linear_attenuation("water", [60.0])
        assert calls == ["H2O"]
        assert 0.0 < off_grid[0] < on_grid[2]  # 60 keV attenuates less than 44 keV
    finally:
        materials._mass_attenuation_cached.cache_clear()
