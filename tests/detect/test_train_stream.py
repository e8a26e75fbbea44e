"""Streamed X-ray training, time budgets, finishing elsewhere, and runs whose simulator is broken."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from screening.detect.card import read_card
from screening.errors import BackendUnavailableError, ScreeningError
from screening.train.data import FailureGuard, sim_bags
from screening.train.stream import StreamSpec, XrayStream, worker_seeds

from .conftest import fake_generate_bag


def _cfg(tmp_path, **kw):
    from screening.train.xray import XrayTrainConfig

    base = dict(
        out=str(tmp_path / "xray_stream"),
        work_dir=str(tmp_path / "w"),
        size=64,
        steps=3,
        batch=2,
        pretrained=False,
        threads=1,
        ckpt_every=2,
        width=16,
        workers=0,
    )
    return XrayTrainConfig(**{**base, **kw})


def _val():
    return list(sim_bags([900, 901], "xray", generate=fake_generate_bag))


def test_worker_seeds_are_disjoint_and_cover_a_contiguous_range():
    taken = [list(itertools.islice(worker_seeds(100, w, 3), 4)) for w in range(3)]
    flat = sorted(s for seeds in taken for s in seeds)
    assert flat == list(range(100, 112))


def test_stream_yields_encoded_samples_from_fresh_bags():
    spec = StreamSpec(first_seed=10, size=64, generate=fake_generate_bag, pool=4, draws_per_bag=3)
    samples = list(itertools.islice(iter(XrayStream(spec)), 12))
    img, heat, reg, mask, _ = samples[0]
    assert img.shape == (3, 64, 64) and img.dtype == np.float32
    assert heat.shape == (6, 8, 8) and reg.shape == (4, 8, 8) and mask.shape == (8, 8)
    seeds = {s[-1] for s in samples}
    assert seeds <= set(range(10, 14)) and len(seeds) >= 2  # 3 draws per bag: 12 samples span 4 bags
    # even seeds hold a firearm: some sample must carry a firearm centre
    assert any(s[1][0].max() == 1.0 for s in samples)


def test_stream_training_records_seeds_and_steps_in_the_card(tmp_path):
    import torch

    from screening.train.xray import train_xray_stream

    cfg = _cfg(tmp_path)
    prov = {"command": "train --steps 3"}
    path = train_xray_stream(cfg, 50, None, _val(), prov, generate=fake_generate_bag)
    card = read_card(path)
    assert card.training["steps_done"] == 3
    assert card.training["train_seeds"].startswith("50..") and "streamed" in card.training["train_seeds"]
    assert card.training["n_train_bags"] >= 1
    state = torch.load(tmp_path / "w" / "checkpoint.pt", weights_only=False)
    assert state["step"] == 3 and state["extra"]["max_seed"] >= 50


def test_time_budget_stops_the_run_and_the_card_names_the_steps_done(tmp_path):
    from screening.train.xray import train_xray_stream

    cfg = _cfg(tmp_path, steps=100_000, max_minutes=0.002)  # 0.12 s: stops after a few steps
    prov = {"command": "screening train --stream --steps 100000 --max-minutes 0.002 --batch 2"}
    path = train_xray_stream(cfg, 0, None, _val(), prov, generate=fake_generate_bag)
    card = read_card(path)
    done = card.training["steps_done"]
    assert 1 <= done < 100_000
    assert f"--steps {done} " in card.training["command"]
    assert "--max-minutes" not in card.training["command"]


def test_a_finished_run_is_exported_without_its_device_or_its_data(tmp_path):
    import dataclasses

    from screening.train.xray import train_xray_stream

    cfg = _cfg(tmp_path)
    train_xray_stream(cfg, 0, None, _val(), {}, generate=fake_generate_bag)

    def no_bags(*_a, **_k):
        raise AssertionError("a finished run must not simulate training bags")

    # as when a run trained on a GPU machine is finished on a CPU-only one
    again = dataclasses.replace(cfg, device="cuda", out=str(tmp_path / "again"))
    path = train_xray_stream(again, 0, None, _val(), {}, generate=no_bags)
    assert read_card(path).training["steps_done"] == 3


def test_an_unfinished_run_on_a_missing_cuda_device_fails_clearly(tmp_path):
    import torch

    from screening.train.xray import train_xray_stream

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    cfg = _cfg(tmp_path, device="cuda")
    with pytest.raises(BackendUnavailableError, match="no CUDA device"):
        train_xray_stream(cfg, 0, None, _val(), {}, generate=fake_generate_bag)


def test_a_simulator_that_always_fails_stops_the_run():
    def broken(seed, config=None, modality="both"):
        raise RuntimeError("simulator data missing")

    with pytest.warns(RuntimeWarning), pytest.raises(ScreeningError, match="first 5 seeds"):
        list(sim_bags(range(100), "xray", generate=broken))


def test_single_failed_seeds_are_skipped_with_a_warning():
    def flaky(seed, config=None, modality="both"):
        if seed == 3:
            raise RuntimeError("bad seed")
        return fake_generate_bag(seed, config, modality)

    with pytest.warns(RuntimeWarning, match="seed 3"):
        bags = list(sim_bags(range(8), "xray", generate=flaky))
    assert [b.seed for b in bags] == [0, 1, 2, 4, 5, 6, 7]


def test_failure_guard_only_trips_before_the_first_success():
    guard = FailureGuard(limit=2)
    guard.success()
    for _ in range(10):
        guard.failure("late failure")  # a long run is not stopped by scattered bad seeds
    fresh = FailureGuard(limit=2)
    fresh.failure("a")
    with pytest.raises(ScreeningError, match="first 2 seeds"):
        fresh.failure("b")


def test_ct_run_finished_elsewhere_needs_no_candidates(tmp_path):
    from screening.train.ct import CtTrainConfig, train_ct

    def bags(seeds):
        return sim_bags(seeds, "ct", generate=fake_generate_bag)

    cfg = CtTrainConfig(
        out=str(tmp_path / "ct"),
        work_dir=str(tmp_path / "wc"),
        epochs=1,
        batch=8,
        threads=1,
        candidates={"min_volume_cm3": 0.05, "crop": 8},
        width=4,
    )
    first = train_ct(cfg, bags(range(4)), 4, list(bags([10, 11])), {})
    counts = read_card(first).training["train_candidates"]["per_class"]
    (tmp_path / "wc" / "ct_candidates.npz").unlink()  # only the checkpoint travels back

    def no_dataset(params, rule):
        raise AssertionError("a finished run must not extract candidates again")

    again = train_ct(cfg, iter(()), 0, list(bags([10, 11])), {}, dataset=no_dataset)
    assert read_card(again).training["train_candidates"]["per_class"] == counts
    # ... but not under another label rule: the card would name a recipe the weights were not trained with
    other = dataclasses.replace(cfg, min_object_share=0.15)
    with pytest.raises(
        ValueError, match=r"checkpoint.pt: trained on labels made with LabelRule\(min_object_share=0.0"
    ):
        train_ct(other, iter(()), 0, list(bags([10, 11])), {}, dataset=no_dataset)


def test_cli_refuses_stream_for_ct(tmp_path, capsys):
    from screening.cli.main import main

    rc = main(["train", "--modality", "ct", "--stream", "--out", str(tmp_path / "m")])
    assert rc == 1
    assert "--stream is for --modality xray" in capsys.readouterr().err


def test_parallel_candidates_match_the_serial_extraction():
    from screening.detect.ct_candidates import CandidateParams
    from screening.sim.config import SimConfig
    from screening.train.ct_dataset import candidate_dataset, candidate_dataset_parallel

    params, cfg = CandidateParams(context=4, context_mm=8.0), SimConfig()
    par = candidate_dataset_parallel([7, 8], cfg, params, workers=2)
    ser = candidate_dataset(sim_bags([7, 8], "ct", config=cfg), params)
    assert len(par[2]) > 0 and par[3].shape == (len(par[2]), 2, 4, 4, 4)
    for a, b in zip(par, ser, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("flags", [["--size", "100"], ["--export-size", "250"], ["--size", "0"]])
def test_cli_refuses_input_sides_that_are_not_multiples_of_16(tmp_path, capsys, flags):
    from screening.cli.main import main

    rc = main(["train", "--modality", "xray", "--sim-bags", "2", "--out", str(tmp_path / "m"), *flags])
    assert rc == 1
    assert "positive multiple of 16" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_cli_refuses_an_unknown_share_exempt_class_before_simulating(tmp_path, capsys):
    from screening.cli.main import main

    argv = ["train", "--modality", "ct", "--sim-bags", "2", "--out", str(tmp_path / "m")]
    rc = main([*argv, "--ct-min-object-share", "0.15", "--ct-share-exempt", "ammunition,bullets"])
    assert rc == 1
    assert "--ct-share-exempt: unknown class bullets" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "out").exists()


def test_cli_names_a_work_dir_whose_cache_was_labelled_by_another_rule(tmp_path, capsys):
    from screening.cli.main import main

    work = tmp_path / "w"
    work.mkdir()
    np.savez(
        work / "ct_candidates.npz",
        crops=np.zeros((1, 2, 24, 24, 24), np.float16),
        feats=np.zeros((1, 9), np.float32),
        labels=np.zeros(1, np.int64),
        context=np.zeros((1, 2, 0, 0, 0), np.float16),
    )
    argv = ["train", "--modality", "ct", "--sim-bags", "2", "--val-bags", "1", "--epochs", "1"]
    rc = main([*argv, "--out", str(tmp_path / "m"), "--work-dir", str(work), "--ct-min-object-share", "0.15"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "ct_candidates.npz: cached labels were made with LabelRule(min_object_share=0.0" in err
    assert "Traceback" not in err and not (tmp_path / "m.onnx").exists()
