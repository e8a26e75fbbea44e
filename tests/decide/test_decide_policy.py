"""Policy TOML loading (defaults < file < flags), currency rules, customs declarations, drugs, annotate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from screening.decide import (
    Deadline,
    Declaration,
    Policy,
    decide,
    declaration_for,
    load_config,
    load_declarations,
    load_policy,
    tail_out_time,
)
from screening.errors import InvalidScanError, UnsupportedFormatError
from screening.scan import Detection, Label, Verdict


def cash(notes: int | None, score: float = 0.9, material: str | None = None) -> Detection:
    return Detection(Label.CURRENCY, score, (0, 0, 5, 5), note_count=notes, material=material)


def test_shipped_defaults_equal_builtin_policy() -> None:
    cfg = load_config()
    assert dataclasses.replace(cfg.policy, name="builtin") == Policy()
    assert cfg.deadline_s == 10.0
    assert cfg.sources == ("<defaults>",)


def test_precedence_defaults_file_flags(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text(
        "[thresholds]\nfirearm = 0.7\n[currency]\nmin_notes = 50\n[deadline]\nbudget_s = 8\n",
        encoding="utf-8",
    )
    from_file = load_config(f)
    assert from_file.policy.threshold(Label.FIREARM) == 0.7
    assert from_file.policy.threshold(Label.BLADE) == 0.5  # untouched key keeps the default
    assert from_file.policy.currency_min_notes == 50
    assert from_file.deadline_s == 8
    flags = load_config(f, {"currency": {"min_notes": 70}, "deadline": {"budget_s": 9}})
    assert flags.policy.currency_min_notes == 70
    assert flags.deadline_s == 9
    assert flags.policy.threshold(Label.FIREARM) == 0.7  # file value survives flags that don't touch it
    assert flags.sources == ("<defaults>", str(f), "<flags>")


def test_cli_flags_map_onto_overrides(tmp_path: Path) -> None:
    from screening.cli.main import build_parser
    from screening.cli.run import policy_overrides

    f = tmp_path / "p.toml"
    f.write_text("[currency]\nmin_notes = 50\n[customs]\nenabled = true\n", encoding="utf-8")
    args = build_parser().parse_args(
        ["run", "--policy", str(f), "--currency-min-notes", "30", "--no-customs", "--threshold", "blade=0.8"]
    )
    cfg = load_config(args.policy, policy_overrides(args))
    assert cfg.policy.currency_min_notes == 30
    assert cfg.policy.customs.enabled is False
    assert cfg.policy.threshold(Label.BLADE) == 0.8
    args = build_parser().parse_args(["run", "--threshold", "blade"])
    with pytest.raises(ValueError, match="LABEL=SCORE"):
        policy_overrides(args)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[nonsense]\nx = 1\n", "unknown section"),
        ("[currency]\nmax_notes = 1\n", "unknown key"),
        ("[thresholds]\nbazooka = 0.5\n", "unknown label 'bazooka'"),
        ("[thresholds]\nfirearm = 1.5\n", r"must be a number in \[0, 1\]"),
        ('[classes]\nalarm = ["shield"]\nreview = ["shield"]\n', "both 'alarm' and 'review'"),
        ("[customs]\nenabled = 'yes'\n", "true or false"),
        ("[devices]\nclear_unvalidated = 1\n", r"\[devices\] clear_unvalidated must be true or false"),
        ("[[currency.rule]]\ncurrency = 'EUR'\n", "needs min_notes"),
    ],
)
def test_bad_policy_file_names_file_and_problem(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidScanError, match=match) as info:
        load_policy(f)
    assert str(f) in str(info.value)


def test_unparsable_or_missing_policy_file(tmp_path: Path) -> None:
    f = tmp_path / "broken.toml"
    f.write_text("[thresholds\n", encoding="utf-8")
    with pytest.raises(UnsupportedFormatError, match="not valid TOML"):
        load_policy(f)
    with pytest.raises(UnsupportedFormatError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")


def test_annotate_only_labels(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('[classes]\nannotate = ["wildlife"]\n', encoding="utf-8")
    policy = load_policy(f)
    det = Detection(Label.WILDLIFE, 0.99, (0, 0, 1, 1))
    assert decide([det], policy) == (Verdict.CLEAR, ())
    assert decide([det], Policy())[0] == Verdict.ALARM


def test_currency_rules_most_specific_wins(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text(
        "[currency]\nmin_notes = 100\n"
        "[[currency.rule]]\ncurrency = 'EUR'\nmin_notes = 60\n"
        "[[currency.rule]]\ncurrency = 'EUR'\ndenomination = 500\nmin_notes = 10\n",
        encoding="utf-8",
    )
    policy = load_policy(f)
    assert decide([cash(12, material="EUR 500")], policy)[0] == Verdict.ALARM
    assert decide([cash(12, material="EUR 50")], policy)[0] == Verdict.CLEAR
    assert decide([cash(61, material="EUR 50")], policy)[0] == Verdict.ALARM
    assert decide([cash(61, material="USD 100")], policy)[0] == Verdict.CLEAR
    assert decide([cash(100)], policy)[0] == Verdict.ALARM
    _, reasons = decide([cash(100)], policy)
    assert "~100 notes >= 100 notes" in reasons[0]


def test_customs_alarm_only_above_declaration_with_margin() -> None:
    policy = dataclasses.replace(
        Policy(), customs=dataclasses.replace(Policy().customs, enabled=True, margin_fraction=0.2)
    )
    decl = Declaration(amount=10_000, currency="EUR")
    # 220 notes x 50 EUR = 11,000 <= 12,000 allowed: clear, both numbers shown in a note.
    verdict, reasons = decide([cash(220)], policy, declaration=decl)
    assert verdict == Verdict.CLEAR
    assert "estimated 11,000 EUR vs declared 10,000 EUR" in reasons[0] and reasons[0].startswith("note:")
    # 260 notes x 50 = 13,000 > 12,000: alarm, both shown.
    verdict, reasons = decide([cash(260)], policy, declaration=decl)
    assert verdict == Verdict.ALARM
    assert "estimated 13,000 EUR vs declared 10,000 EUR (alarm above 12,000)" in reasons[0]
    # The detector's denomination beats the assumed note value.
    assert decide([cash(30, material="EUR 500")], policy, declaration=decl)[0] == Verdict.ALARM
    # Different currency: not comparable, falls back to the note-count rule and says so.
    verdict, reasons = decide([cash(150, material="USD")], policy, declaration=decl)
    assert verdict == Verdict.ALARM and "not comparable" in reasons[0]
    # Customs off: declaration ignored, note count rule.
    assert decide([cash(220)], Policy(), declaration=decl)[0] == Verdict.ALARM


def test_drug_mass_in_reason_and_min_mass() -> None:
    det = Detection(Label.DRUGS, 0.8, (0, 0, 1, 1), mass_g=420.0)
    verdict, reasons = decide([det], Policy())
    assert verdict == Verdict.ALARM and "~420 g" in reasons[0]
    small = dataclasses.replace(det, mass_g=3.0)
    verdict, reasons = decide([small], dataclasses.replace(Policy(), drugs_min_mass_g=10.0))
    assert verdict == Verdict.CLEAR and "below 10 g" in reasons[0]


def test_errors_never_clear() -> None:
    assert decide([], Policy(), ["deadline: too slow"]) == (Verdict.REVIEW, ("deadline: too slow",))
    assert decide([], Policy(), ["boom"])[1] == ("error: boom",)


def test_declaration_files(tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("bag_id,amount,currency\nbag-1,9000,eur\n", encoding="utf-8")
    toml = tmp_path / "d.toml"
    toml.write_text('[bag-2]\namount = 100\ncurrency = "USD"\n', encoding="utf-8")
    js = tmp_path / "d.json"
    js.write_text('{"bag-3": {"amount": 5, "currency": "GBP"}}', encoding="utf-8")
    assert load_declarations(csv)["bag-1"] == Declaration(9000.0, "EUR", str(csv))
    assert load_declarations(toml)["bag-2"].currency == "USD"
    assert load_declarations(js)["bag-3"].amount == 5.0
    bad = tmp_path / "bad.csv"
    bad.write_text("bag,money\nx,1\n", encoding="utf-8")
    with pytest.raises(UnsupportedFormatError, match="bag_id,amount,currency"):
        load_declarations(bad)
    neg = tmp_path / "neg.json"
    neg.write_text('{"b": {"amount": -1, "currency": "EUR"}}', encoding="utf-8")
    with pytest.raises(InvalidScanError, match="finite number >= 0"):
        load_declarations(neg)
    with pytest.raises(UnsupportedFormatError, match=r"\.csv, \.toml or \.json"):
        load_declarations(tmp_path / "d.xml")


def test_declaration_file_wins_over_meta_and_policy_path_is_relative(tmp_path: Path) -> None:
    meta = {"declaration": {"amount": 1, "currency": "EUR"}}
    table = {"bag-1": Declaration(99.0, "USD")}
    assert declaration_for("bag-1", [meta], table).amount == 99.0
    assert declaration_for("bag-2", [meta], table).amount == 1.0
    assert declaration_for("bag-2", [{"declaration": {"amount": "lots"}}], table) is None
    (tmp_path / "decl.csv").write_text("bag_id,amount,currency\nbag-9,10,EUR\n", encoding="utf-8")
    f = tmp_path / "p.toml"
    f.write_text('[customs]\nenabled = true\ndeclarations = "decl.csv"\n', encoding="utf-8")
    assert load_config(f).declarations["bag-9"].amount == 10.0


def test_deadline_definition() -> None:
    start = tail_out_time(head_in_s=100.0, bag_length_m=0.6, belt_speed_m_s=0.3)
    assert start == pytest.approx(102.0)
    d = Deadline(start, 10.0)
    assert d.due_s == pytest.approx(112.0)
    assert not d.expired(111.9) and d.expired(112.1)
    assert d.remaining(110.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="must be > 0"):
        tail_out_time(0.0, 0.6, 0.0)


def test_unvalidated_devices_are_never_cleared_by_default(tmp_path: Path) -> None:
    assert load_policy().clear_unvalidated_devices is False
    f = tmp_path / "p.toml"
    f.write_text("[devices]\nclear_unvalidated = true\n", encoding="utf-8")
    assert load_policy(f).clear_unvalidated_devices is True
