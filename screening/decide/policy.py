"""Screening policy: per-class thresholds and the rules that turn detections into a verdict."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from screening.decide.declarations import Declaration
from screening.scan import CONTRABAND, Detection, Label, Verdict

__all__ = ["CurrencyRule", "CustomsConfig", "Policy", "decide"]


def _default_thresholds() -> dict[Label, float]:
    return {label: 0.5 for label in (*CONTRABAND, Label.SHIELD)}


@dataclass(frozen=True)
class CurrencyRule:
    """How many banknotes make "excess currency" for one currency / denomination.

    Attributes:
        currency: ISO 4217 code (``"EUR"``) or ``"*"`` for any.
        denomination: face value of one note, or ``None`` for any denomination.
        min_notes: a currency detection alarms from this many notes.
    """

    currency: str = "*"
    denomination: float | None = None
    min_notes: int = 100

    def matches(self, currency: str | None, denomination: float | None) -> bool:
        if self.currency != "*" and self.currency != (currency or ""):
            return False
        return self.denomination is None or self.denomination == denomination

    @property
    def specificity(self) -> int:
        return (self.currency != "*") + (self.denomination is not None)


@dataclass(frozen=True)
class CustomsConfig:
    """Customs mode: compare the cash estimate with the passenger's declaration.

    Attributes:
        enabled: when ``True`` and a declaration is known for the bag, currency alarms only when the
            estimated amount exceeds the declared amount by the margin.
        margin_fraction: relative margin, e.g. ``0.2`` = 20 % above the declaration.
        margin_amount: absolute margin in the declared currency, added to the relative one.
        assumed_note_value: currency code -> face value assumed per note when the detector does not
            say the denomination (e.g. ``{"EUR": 50}``); ``"*"`` is the fallback.
    """

    enabled: bool = False
    margin_fraction: float = 0.2
    margin_amount: float = 0.0
    assumed_note_value: Mapping[str, float] = field(
        default_factory=lambda: {"*": 50.0, "EUR": 50.0, "USD": 100.0, "GBP": 20.0}
    )

    def note_value(self, currency: str) -> float | None:
        value = self.assumed_note_value.get(currency, self.assumed_note_value.get("*"))
        return None if value is None else float(value)


@dataclass(frozen=True)
class Policy:
    """What alarms, what only annotates and at which scores.

    Load it from TOML with :func:`screening.decide.config.load_policy` (defaults in
    ``screening/decide/default_policy.toml``).

    Attributes:
        thresholds: minimum score per label for a detection to count.
        alarm_labels: labels that produce ``alarm`` when they count.
        review_labels: labels that produce ``review`` (an operator must look), e.g. ``shield``.
            Labels in neither set are only annotated (kept in the report, no effect on the verdict).
        currency_min_notes: a currency detection alarms only from this many notes (when the count is
            known); below, it is annotated. Overridden by a matching entry of ``currency_rules``.
        currency_rules: per-currency / per-denomination note thresholds; the most specific match wins.
        customs: declaration handling for currency (see :class:`CustomsConfig`).
        drugs_min_mass_g: a drug detection with a known mass below this is only annotated.
        clear_unvalidated_devices: let a bag from a device the detectors were not calibrated on be
            cleared (default ``False``: with nothing found it gets ``review``).
        name: where the policy came from (shown in reports).
    """

    thresholds: Mapping[Label, float] = field(default_factory=_default_thresholds)
    alarm_labels: frozenset[Label] = frozenset(CONTRABAND)
    review_labels: frozenset[Label] = frozenset({Label.SHIELD})
    currency_min_notes: int = 100
    currency_rules: tuple[CurrencyRule, ...] = ()
    customs: CustomsConfig = field(default_factory=CustomsConfig)
    drugs_min_mass_g: float = 0.0
    clear_unvalidated_devices: bool = False
    name: str = "builtin"

    def threshold(self, label: Label) -> float:
        return float(self.thresholds.get(label, 0.5))

    def min_notes(self, currency: str | None, denomination: float | None) -> int:
        """Note count from which currency alarms, for this currency / denomination."""
        matching = [r for r in self.currency_rules if r.matches(currency, denomination)]
        if not matching:
            return self.currency_min_notes
        return max(matching, key=lambda r: r.specificity).min_notes


_CURRENCY_MATERIAL = re.compile(r"^\s*([A-Za-z]{3})(?:\s+(\d+(?:\.\d+)?))?\s*$")


def currency_of(det: Detection) -> tuple[str | None, float | None]:
    """Currency code and note denomination from a currency detection's ``material`` (``"EUR 50"``)."""
    m = _CURRENCY_MATERIAL.match(det.material or "")
    if not m:
        return None, None
    return m.group(1).upper(), (float(m.group(2)) if m.group(2) else None)


def decide(
    detections: Sequence[Detection],
    policy: Policy,
    errors: Sequence[str] = (),
    *,
    declaration: Declaration | None = None,
    unvalidated: Sequence[str] = (),
) -> tuple[Verdict, tuple[str, ...]]:
    """Turn detections into a verdict with reasons.

    ``alarm`` beats ``review`` beats ``clear``; any error forces at least ``review`` (never ``clear``), and
    so does a scan from a device the detectors were not calibrated on, unless
    ``policy.clear_unvalidated_devices``. Informational reasons start with ``"note: "`` (e.g. cash
    within the declaration) and never change the verdict.

    Args:
        detections: every detection for the bag, all views/volumes.
        policy: thresholds and rules.
        errors: failures met while screening this bag (unreadable input, detector crash, deadline).
        declaration: the passenger's cash declaration for this bag, if known (customs mode).
        unvalidated: one reason per scan/detector pair whose device is not among the detector's
            validated devices (see :func:`screening.pipeline.unvalidated_devices`).

    Returns:
        ``(verdict, reasons)``.
    """
    alarms: list[str] = []
    reviews: list[str] = [f"error: {e}" if not e.startswith(("deadline", "error")) else e for e in errors]
    notes: list[str] = []
    for det in detections:
        if det.score < policy.threshold(det.label):
            continue
        if det.label in policy.alarm_labels:
            if det.label == Label.CURRENCY:
                alarm, text = _currency(det, policy, declaration)
                (alarms if alarm else notes).append(text)
                continue
            if det.label == Label.DRUGS and det.mass_g is not None and det.mass_g < policy.drugs_min_mass_g:
                notes.append(f"note: {_describe(det)} below {policy.drugs_min_mass_g:g} g")
                continue
            alarms.append(_describe(det))
        elif det.label in policy.review_labels:
            reviews.append(_describe(det))
    notes = [n for n in notes if n]
    if policy.clear_unvalidated_devices:
        notes.extend(f"note: {u}" for u in unvalidated)
    else:
        reviews.extend(unvalidated)
    if alarms:
        return Verdict.ALARM, tuple(alarms + reviews + notes)
    if reviews:
        return Verdict.REVIEW, tuple(reviews + notes)
    return Verdict.CLEAR, tuple(notes)


def _currency(det: Detection, policy: Policy, decl: Declaration | None) -> tuple[bool, str]:
    """``(alarms, reason)`` for one counted currency detection; an empty reason is dropped."""
    currency, denomination = currency_of(det)
    text = _describe(det)
    if det.note_count is None:
        return True, text + " (note count unknown)"
    customs = policy.customs
    if customs.enabled and decl is not None:
        same = currency is None or currency == decl.currency
        value = denomination or customs.note_value(decl.currency)
        if same and value is not None:
            estimate = det.note_count * value
            allowed = decl.amount * (1.0 + customs.margin_fraction) + customs.margin_amount
            compare = (
                f"estimated {estimate:,.0f} {decl.currency} vs declared {decl.amount:,.0f} {decl.currency}"
                f" (alarm above {allowed:,.0f})"
            )
            if estimate > allowed:
                return True, f"{text}: {compare}"
            return False, f"note: {text}: {compare}"
        # Different currency or no note value: fall back to the note-count rule, and say so.
        text += f" (declared {decl.amount:,.0f} {decl.currency}; not comparable)"
    need = policy.min_notes(currency, denomination)
    if det.note_count >= need:
        return True, f"{text} >= {need} notes"
    return False, ""


def _describe(det: Detection) -> str:
    text = f"{det.label} {det.score:.2f}"
    if det.view:
        text += f" ({det.view})"
    if det.label == Label.CURRENCY and det.material:
        text += f" {det.material}"
    if det.mass_g is not None:
        text += f" ~{det.mass_g:.0f} g"
    if det.note_count is not None:
        text += f" ~{det.note_count} notes"
    return text
