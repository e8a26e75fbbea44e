"""`screening evaluate --data` records where the bags came from (seeds and command from the dataset card)."""

from __future__ import annotations

import json

from screening.cli.evaluate import _folder_provenance


def test_seeds_and_command_come_from_the_dataset_card(tmp_path):
    card = {"synthetic": True, "seeds": [1000000, 1000119], "settings": {"command": "screening simulate --x"}}
    (tmp_path / "dataset_card.json").write_text(json.dumps(card))
    got = _folder_provenance(tmp_path)
    assert got == {
        "folder": str(tmp_path),
        "seeds": "1000000..1000119",
        "simulate_command": "screening simulate --x",
        "synthetic": True,
    }


def test_missing_or_broken_card_leaves_only_the_folder(tmp_path):
    assert _folder_provenance(tmp_path) == {"folder": str(tmp_path)}
    (tmp_path / "dataset_card.json").write_text("{not json")
    assert _folder_provenance(tmp_path) == {"folder": str(tmp_path)}
    (tmp_path / "dataset_card.json").write_text("[1, 2]")
    assert _folder_provenance(tmp_path) == {"folder": str(tmp_path)}
