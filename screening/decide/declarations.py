"""Passenger cash declarations for customs mode: from scan metadata or a file keyed by bag id."""

from __future__ import annotations

import csv
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.errors import InvalidScanError, UnsupportedFormatError

__all__ = ["Declaration", "declaration_for", "declaration_from_meta", "load_declarations"]


@dataclass(frozen=True)
class Declaration:
    """Cash a passenger declared for one bag.

    Attributes:
        amount: declared amount, in ``currency`` units (>= 0).
        currency: ISO 4217 code, upper case (``"EUR"``).
        source: where it came from (file name or ``"scan meta"``).
    """

    amount: float
    currency: str
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency, "source": self.source}


def _parse(entry: Any, source: str, where: str) -> Declaration:
    if not isinstance(entry, Mapping):
        raise InvalidScanError(
            f"{where}: expected a table with 'amount' and 'currency', got {type(entry).__name__}",
            source=source,
        )
    try:
        amount = float(entry["amount"])
        currency = str(entry["currency"]).strip().upper()
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidScanError(
            f"{where}: needs 'amount' (number) and 'currency' (e.g. 'EUR'); got {dict(entry)!r} ({exc})",
            source=source,
        ) from None
    if not math.isfinite(amount) or amount < 0 or len(currency) != 3 or not currency.isalpha():
        raise InvalidScanError(
            f"{where}: amount must be a finite number >= 0 and currency a 3-letter code; "
            f"got amount={amount!r}, currency={currency!r}",
            source=source,
        )
    return Declaration(amount=amount, currency=currency, source=source)


def load_declarations(path: str | Path) -> dict[str, Declaration]:
    """Read a declaration file keyed by bag id.

    Formats (by extension):

    * ``.csv``: header ``bag_id,amount,currency``;
    * ``.toml``: ``[bag-000042]`` tables with ``amount`` and ``currency``;
    * ``.json``: ``{"bag-000042": {"amount": 9000, "currency": "EUR"}}``.

    Raises:
        UnsupportedFormatError: unknown extension or unparsable file.
        InvalidScanError: an entry lacks a valid amount or currency.
    """
    p = Path(path)
    src = str(p)
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            with p.open(newline="", encoding="utf-8") as fh:
                rows: Sequence[Mapping[str, Any]] = list(csv.DictReader(fh))
            if rows and not {"bag_id", "amount", "currency"} <= set(rows[0]):
                raise UnsupportedFormatError(
                    f"CSV header must contain bag_id,amount,currency; got {sorted(rows[0])}", source=src
                )
            data = {str(r["bag_id"]): r for r in rows}
        elif suffix == ".toml":
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        elif suffix == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
        else:
            raise UnsupportedFormatError(
                f"declaration file must be .csv, .toml or .json; got {suffix or 'no extension'!r}",
                source=src,
            )
    except OSError as exc:
        raise UnsupportedFormatError(f"cannot read declaration file: {exc.strerror}", source=src) from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, csv.Error, UnicodeDecodeError) as exc:
        raise UnsupportedFormatError(f"cannot parse declaration file: {exc}", source=src) from None
    if not isinstance(data, Mapping):
        raise UnsupportedFormatError(
            "expected a mapping of bag id -> declaration at the top level", source=src
        )
    return {str(k): _parse(v, src, f"bag {k!r}") for k, v in data.items()}


def declaration_from_meta(meta: Mapping[str, Any], source: str = "scan meta") -> Declaration | None:
    """The declaration carried in a scan's metadata (``meta["declaration"]``), if any.

    Malformed metadata gives ``None`` (metadata is advisory; the bag is still screened).
    """
    entry = meta.get("declaration")
    if entry is None:
        return None
    try:
        return _parse(entry, source, "meta['declaration']")
    except InvalidScanError:
        return None


def declaration_for(
    bag_id: str, metas: Sequence[Mapping[str, Any]], table: Mapping[str, Declaration] | None = None
) -> Declaration | None:
    """The bag's declaration: the declaration file wins over scan metadata."""
    if table and bag_id in table:
        return table[bag_id]
    for meta in metas:
        decl = declaration_from_meta(meta)
        if decl is not None:
            return decl
    return None
