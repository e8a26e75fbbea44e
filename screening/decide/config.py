"""Policy configuration: the shipped TOML defaults, a user file and command-line overrides, in that order."""

from __future__ import annotations

import copy
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from screening.decide.declarations import Declaration, load_declarations
from screening.decide.policy import CurrencyRule, CustomsConfig, Policy
from screening.errors import InvalidScanError, UnsupportedFormatError

__all__ = ["DecideConfig", "default_policy_text", "load_config", "load_policy", "merge"]

_SECTIONS: dict[str, set[str]] = {
    "thresholds": set(),  # label names, checked separately
    "classes": {"alarm", "review", "annotate"},
    "currency": {"min_notes", "rule"},
    "customs": {"enabled", "margin_fraction", "margin_amount", "declarations", "assumed_note_value"},
    "drugs": {"min_mass_g"},
    "deadline": {"budget_s"},
    "devices": {"clear_unvalidated"},
}


@dataclass(frozen=True)
class DecideConfig:
    """Everything the decision stage needs, parsed from the policy TOML.

    Attributes:
        policy: thresholds and alarm rules.
        deadline_s: verdict budget in seconds.
        declarations: bag id -> declaration (from the customs declaration file).
        sources: the files that were merged, in order (``"<defaults>"`` first).
    """

    policy: Policy
    deadline_s: float
    declarations: Mapping[str, Declaration]
    sources: tuple[str, ...]


def default_policy_text() -> str:
    """The shipped ``default_policy.toml`` (documented defaults)."""
    return resources.files("screening.decide").joinpath("default_policy.toml").read_text(encoding="utf-8")


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two TOML tables; ``override`` wins, lists are replaced, not appended."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _fail(msg: str, source: str) -> InvalidScanError:
    return InvalidScanError(msg, source=source)


def _check_keys(data: Mapping[str, Any], source: str) -> None:
    for section, value in data.items():
        if section not in _SECTIONS:
            raise _fail(
                f"unknown section [{section}]; valid sections: {', '.join(sorted(_SECTIONS))}", source
            )
        if not isinstance(value, Mapping):
            raise _fail(f"[{section}] must be a table, got {type(value).__name__}", source)
        allowed = _SECTIONS[section]
        if allowed:
            unknown = set(value) - allowed
            if unknown:
                raise _fail(
                    f"unknown key(s) {sorted(unknown)} in [{section}]; valid: {sorted(allowed)}", source
                )


def _label(name: Any, source: str, where: str) -> Any:
    from screening.scan import Label

    try:
        return Label(str(name))
    except ValueError:
        raise _fail(
            f"{where}: unknown label {name!r}; valid labels: {', '.join(str(x) for x in Label)}", source
        ) from None


def _number(value: Any, source: str, where: str, lo: float = 0.0, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= float(value) <= hi:
        raise _fail(f"{where} must be a number in [{lo:g}, {hi:g}]; got {value!r}", source)
    return float(value)


def _build(data: Mapping[str, Any], source: str, base_dir: Path | None) -> DecideConfig:
    _check_keys(data, source)
    thresholds = {
        _label(k, source, "[thresholds]"): _number(v, source, f"[thresholds] {k}", 0.0, 1.0)
        for k, v in data.get("thresholds", {}).items()
    }
    classes = data.get("classes", {})
    alarm = {_label(x, source, "[classes] alarm") for x in classes.get("alarm", [])}
    review = {_label(x, source, "[classes] review") for x in classes.get("review", [])}
    annotate = {_label(x, source, "[classes] annotate") for x in classes.get("annotate", [])}
    alarm -= annotate
    review -= annotate
    both = alarm & review
    if both:
        raise _fail(
            f"[classes] label(s) {sorted(str(x) for x in both)} are in both 'alarm' and 'review'; "
            "keep each label in one list",
            source,
        )
    currency = data.get("currency", {})
    rules = []
    for i, rule in enumerate(currency.get("rule", [])):
        where = f"[[currency.rule]] #{i + 1}"
        if not isinstance(rule, Mapping) or "min_notes" not in rule:
            raise _fail(f"{where} needs min_notes (and optionally currency, denomination)", source)
        unknown = set(rule) - {"currency", "denomination", "min_notes"}
        if unknown:
            raise _fail(f"{where}: unknown key(s) {sorted(unknown)}", source)
        denom = rule.get("denomination")
        rules.append(
            CurrencyRule(
                currency=str(rule.get("currency", "*")).upper() if rule.get("currency") else "*",
                denomination=None if denom is None else _number(denom, source, f"{where} denomination"),
                min_notes=int(_number(rule["min_notes"], source, f"{where} min_notes")),
            )
        )
    customs = data.get("customs", {})
    notes = {
        str(k).upper() if k != "*" else "*": _number(v, source, f"[customs.assumed_note_value] {k}")
        for k, v in customs.get("assumed_note_value", {}).items()
    }
    enabled = customs.get("enabled", False)
    if not isinstance(enabled, bool):
        raise _fail(f"[customs] enabled must be true or false; got {enabled!r}", source)
    clear_unvalidated = data.get("devices", {}).get("clear_unvalidated", False)
    if not isinstance(clear_unvalidated, bool):
        raise _fail(f"[devices] clear_unvalidated must be true or false; got {clear_unvalidated!r}", source)
    policy = Policy(
        thresholds=thresholds,
        alarm_labels=frozenset(alarm),
        review_labels=frozenset(review),
        currency_min_notes=int(_number(currency.get("min_notes", 100), source, "[currency] min_notes")),
        currency_rules=tuple(rules),
        customs=CustomsConfig(
            enabled=enabled,
            margin_fraction=_number(customs.get("margin_fraction", 0.2), source, "[customs] margin_fraction"),
            margin_amount=_number(customs.get("margin_amount", 0.0), source, "[customs] margin_amount"),
            assumed_note_value=notes,
        ),
        drugs_min_mass_g=_number(data.get("drugs", {}).get("min_mass_g", 0.0), source, "[drugs] min_mass_g"),
        clear_unvalidated_devices=clear_unvalidated,
        name=source,
    )
    deadline_s = _number(
        data.get("deadline", {}).get("budget_s", 10.0), source, "[deadline] budget_s", 0.001, 3600.0
    )
    decl_path = str(customs.get("declarations", "") or "")
    declarations: dict[str, Declaration] = {}
    if decl_path:
        p = Path(decl_path)
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        declarations = load_declarations(p)
    return DecideConfig(policy=policy, deadline_s=deadline_s, declarations=declarations, sources=(source,))


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> DecideConfig:
    """Policy and deadline from the shipped defaults, then ``path``, then ``overrides``.

    Args:
        path: a policy TOML file laid out like ``default_policy.toml``; keys left out keep the defaults.
        overrides: a TOML-shaped mapping from command-line flags, e.g.
            ``{"currency": {"min_notes": 50}, "customs": {"enabled": True}}``.

    Raises:
        UnsupportedFormatError: the file cannot be read or is not valid TOML.
        InvalidScanError: unknown section/key/label or an out-of-range value (the message names it).
    """
    data = tomllib.loads(default_policy_text())
    sources = ["<defaults>"]
    base_dir: Path | None = None
    if path is not None:
        p = Path(path)
        try:
            user = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UnsupportedFormatError(f"cannot read policy file: {exc.strerror}", source=str(p)) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UnsupportedFormatError(
                f"policy file is not valid TOML: {exc}; see screening/decide/default_policy.toml",
                source=str(p),
            ) from None
        _check_keys(user, str(p))
        data = merge(data, user)
        sources.append(str(p))
        base_dir = p.parent
    if overrides:
        _check_keys(overrides, "<flags>")
        data = merge(data, overrides)
        sources.append("<flags>")
    label = " < ".join(sources)
    cfg = _build(data, label, base_dir)
    return DecideConfig(cfg.policy, cfg.deadline_s, cfg.declarations, tuple(sources))


def load_policy(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Policy:
    """Just the :class:`Policy` of :func:`load_config`."""
    return load_config(path, overrides).policy
