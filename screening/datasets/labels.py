"""Map public datasets' class names (Gun, Straight_Knife, Bullet...) onto our fixed contraband labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from screening.scan import Label

__all__ = ["DEFAULT_LABEL_MAP", "LabelMap", "normalise_name"]


def normalise_name(name: str) -> str:
    """Key used for matching class names: lower case, without spaces, underscores or hyphens.

    ``"Multi-tool_Knife"``, ``"multi tool knife"`` and ``"MULTITOOLKNIFE"`` all give ``"multitoolknife"``.
    """
    return "".join(ch for ch in name.strip().lower() if ch not in " _-\t")


_GROUPS: dict[Label, tuple[str, ...]] = {
    Label.FIREARM: ("firearm", "gun", "guns", "pistol", "handgun", "revolver", "rifle", "shotgun"),
    Label.AMMUNITION: ("ammunition", "ammo", "bullet", "bullets", "cartridge", "cartridges"),
    Label.BLADE: (
        "blade",
        "knife",
        "knives",
        "cutter",
        "scissors",
        "scissor",
        "folding knife",
        "straight knife",
        "multi-tool knife",
        "utility knife",
        "razor blade",
        "razor",
        "dagger",
        "shuriken",
    ),
    Label.CURRENCY: ("currency", "cash", "money", "banknote", "banknotes", "bank note"),
    Label.DRUGS: ("drugs", "drug", "narcotics"),
    Label.WILDLIFE: ("wildlife", "ivory", "horn", "horns", "tusk", "rhino horn"),
    Label.SHIELD: ("shield",),
}

#: Normalised source class name -> our label. Names not listed (wrench, pliers, hammer, lighter,
#: powerbank, baton, sprayer, handcuffs, laptop, mobile phone, ...) are not contraband: they map to None.
DEFAULT_LABEL_MAP: Mapping[str, Label] = MappingProxyType(
    {normalise_name(name): label for label, names in _GROUPS.items() for name in names}
)


@dataclass(frozen=True)
class LabelMap:
    """Maps a source class name to a :class:`Label`, or to ``None`` when it is not our contraband.

    Matching ignores case, spaces, underscores and hyphens. ``overrides`` take precedence over
    :data:`DEFAULT_LABEL_MAP`; a value of ``None`` there drops a class the default map would keep.

    Args:
        overrides: source class name -> label (a :class:`Label` or its value, e.g. ``"blade"``) or None.

    Raises:
        ValueError: an override names a label that does not exist.

    Example:
        >>> LabelMap({"Sprayer": "drugs"})("sprayer")
        <Label.DRUGS: 'drugs'>
    """

    overrides: Mapping[str, Label | str | None] = field(default_factory=dict)
    _table: Mapping[str, Label | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table: dict[str, Label | None] = dict(DEFAULT_LABEL_MAP)
        for name, target in self.overrides.items():
            if target is not None and target not in set(Label):
                valid = ", ".join(str(x) for x in Label)
                raise ValueError(
                    f"label map override {name!r} -> {target!r}: unknown label; expected one of {valid}, None"
                )
            table[normalise_name(name)] = None if target is None else Label(target)
        object.__setattr__(self, "_table", MappingProxyType(table))

    def __call__(self, name: str) -> Label | None:
        """Our label for source class ``name``, or None if it is not contraband."""
        return self._table.get(normalise_name(name))
