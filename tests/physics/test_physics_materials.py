"""Physics sanity: attenuation data, spectra, dual-energy ratios and the pseudo-colour classes."""

from __future__ import annotations

import numpy as np
import pytest

from screening.physics.dual_energy import material_curves, material_index, transmission
from screening.physics.materials import MATERIALS, get_material, linear_attenuation
from screening.physics.pseudocolour import DEFAULT_CURVES, Palette, render
from screening.physics.spectra import ENERGY_GRID_KEV, dual_energy_response, tube_spectrum


@pytest.fixture(scope="module")
def response():
    return dual_energy_response()


def test_required_materials_exist_with_normalised_composition():
    required = [
        "water", "cotton", "polyester", "paper", "polyethylene", "abs", "pvc", "rubber", "glass",
        "aluminium", "steel", "copper", "lead", "li_ion_cell", "pcb", "food", "cosmetic_gel", "cocaine_base",
        "cocaine_hcl", "heroin", "meth_hcl", "cannabis_resin", "banknote_paper", "ivory", "keratin",
        "gun_steel", "brass",
    ]  # fmt: skip
    for name in required:
        m = get_material(name)
        assert abs(sum(w for _, w in m.components) - 1.0) < 1e-9
        assert m.density_g_cm3 > 0


def test_unknown_material_names_the_valid_ones():
    with pytest.raises(KeyError, match=r"valid: .*water"):
        get_material("unobtainium")


def test_attenuation_matches_nist_water_and_falls_with_energy():
    mu = linear_attenuation("water", [60.0, 100.0])  # NIST XCOM: 0.2059 and 0.1707 cm^2/g
    assert mu[0] == pytest.approx(0.02059, rel=0.03)
    assert mu[1] == pytest.approx(0.01707, rel=0.03)
    for name in MATERIALS:
        m = linear_attenuation(name, [40.0, 80.0, 120.0])
        assert np.all(m > 0), name


def test_filtration_hardens_the_spectrum():
    soft = tube_spectrum(140, filter_al_mm=1.0)
    hard = tube_spectrum(140, filter_al_mm=1.0, filter_cu_mm=1.0)
    mean = lambda phi: (phi * ENERGY_GRID_KEV).sum() / phi.sum()  # noqa: E731
    assert mean(hard) > mean(soft) + 5
    assert tube_spectrum(140)[ENERGY_GRID_KEV > 145].sum() == 0  # nothing above kVp


def test_high_channel_sees_harder_photons(response):
    assert response.mean_high_kev > response.mean_low_kev + 15
    assert response.w_low.sum() == pytest.approx(1.0) and response.w_high.sum() == pytest.approx(1.0)


def test_thicker_steel_transmits_less(response):
    th, tl = transmission("steel", np.array([0.5, 1, 2, 4, 8, 16]), response)
    assert np.all(np.diff(th) < 0) and np.all(np.diff(tl) < 0)
    assert np.all(tl < th)  # low energies are absorbed more


def _ratio_at(material: str, target_th: float, response) -> float:
    t = np.geomspace(0.01, 2000, 4000)
    th, tl = transmission(material, t, response)
    i = int(np.argmin(np.abs(th - target_th)))
    return float(np.log(tl[i]) / np.log(th[i]))


@pytest.mark.parametrize("target", [0.7, 0.3, 0.1])
def test_dual_energy_ratio_orders_organic_mixed_metal(response, target):
    r_org = _ratio_at("polyethylene", target, response)
    r_water = _ratio_at("water", target, response)
    r_mixed = _ratio_at("aluminium", target, response)
    r_metal = _ratio_at("steel", target, response)
    assert r_org < r_water < r_mixed < r_metal


def test_drug_paper_soap_hard_case_has_close_ratios(response):
    # The hard case: drug salts look like paper, drug bases like soap; the ratio alone
    # cannot tell them apart.
    r = {
        m: _ratio_at(m, 0.4, response)
        for m in ("cocaine_hcl", "meth_hcl", "paper", "soap", "heroin", "aluminium")
    }
    assert abs(r["cocaine_hcl"] - r["paper"]) < 0.05
    assert r["paper"] < r["meth_hcl"] < r["aluminium"]  # more Cl per mass: between paper and light metals
    assert abs(r["heroin"] - r["soap"]) < 0.05
    assert max(v for k, v in r.items() if k != "aluminium") < r["aluminium"] - 0.15


def test_default_curves_match_the_default_scanner():
    np.testing.assert_allclose(np.array(DEFAULT_CURVES), np.array(material_curves()), atol=2e-3)


def test_material_index_and_pseudocolour_classes(response):
    cases = {"polyethylene": 60.0, "water": 40.0, "aluminium": 10.0, "steel": 3.0}
    th, tl = {}, {}
    for m, t in cases.items():
        th[m], tl[m] = transmission(m, np.full((4, 4), t), response)
    idx = {m: float(material_index(th[m], tl[m], DEFAULT_CURVES).mean()) for m in cases}
    assert idx["polyethylene"] == pytest.approx(0.0, abs=0.05)
    assert idx["aluminium"] == pytest.approx(1.0, abs=0.05)
    assert idx["steel"] == pytest.approx(2.0, abs=0.05)
    rgb = {m: render(th[m], tl[m], Palette())[0, 0].astype(int) for m in cases}
    assert rgb["water"][0] > rgb["water"][2]  # orange: red over blue
    assert rgb["steel"][2] > rgb["steel"][0]  # blue
    assert rgb["aluminium"][1] >= max(rgb["aluminium"][0], rgb["aluminium"][2])  # green
    black = render(np.full((2, 2), 1e-4), np.full((2, 2), 1e-5), Palette())
    assert black.max() == 0  # impenetrable is black
    air = render(np.ones((2, 2)), np.ones((2, 2)), Palette())
    assert air.min() == 255  # air is white


def test_fixed_ratio_palette_still_works():
    out = render(np.full((3, 3), 0.5), np.full((3, 3), 0.3), Palette(curves=()))
    assert out.shape == (3, 3, 3) and out.dtype == np.uint8
