"""The pins file (client_py.pins): first contact pins silently; a changed key blocks, or for
a verified person stops hard; accepting and verifying; organisation and records keys; the
file itself (0600, atomic, reloaded as written)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from client_py.errors import (
    KeyChangedError,
    NoPendingChangeError,
    OrgKeyChangedError,
    RecordsKeyChangedError,
    VerifiedKeyChangedError,
)
from client_py.pins import PinStore, default_pins_path
from crypto.account import generate_key_pair

USER = "0b7a3c43-0fd5-4a51-9a54-6d3bda0b8a11"
ORG = "5f0c6c1e-3b5d-4f64-8d0a-2d7c1a9e4b22"


def keys() -> tuple[bytes, bytes]:
    return generate_key_pair().public_key, generate_key_pair().public_key


def test_default_path_per_server_host_and_user(tmp_path: Path) -> None:
    env = {"DERMLINE_CONFIG_DIR": str(tmp_path)}
    path = default_pins_path("https://dermline.example:8443/", USER, env)
    assert path == tmp_path / "dermline" / "dermline.example_8443" / USER / "pins.json"
    assert default_pins_path("https://d.example", USER, {"XDG_CONFIG_HOME": "/x"}) == Path(
        "/x/dermline/d.example", USER, "pins.json"
    )
    home = default_pins_path("https://d.example", USER, {})
    assert home == Path.home() / ".config" / "dermline" / "d.example" / USER / "pins.json"


def test_first_contact_pins_silently_and_the_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "a" / "pins.json"
    store = PinStore(path)
    signing, encryption = keys()
    pin = store.require_person(USER, "Dr Dan", signing, encryption)
    assert pin.keys == (signing, encryption) and not pin.verified and pin.pending is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["pins.json"]  # no temporary left
    again = PinStore(path)
    assert again.people[USER].keys == (signing, encryption)
    assert again.people[USER].first_seen == pin.first_seen
    # The file is JSON with base64url keys, no private material.
    raw = json.loads(path.read_text())
    assert raw["version"] == 1 and set(raw["people"][USER]) >= {"certified", "verified"}


def test_a_changed_key_blocks_until_accepted(tmp_path: Path) -> None:
    store = PinStore(tmp_path / "pins.json")
    old, new = keys(), keys()
    store.require_person(USER, "Dr Dan Dermatologist", *old)
    # Reading notes the change without raising; the pinned keys stay.
    pin = store.observe_person(USER, "Dr Dan Dermatologist", *new)
    assert pin.keys == old and pin.pending == new
    with pytest.raises(KeyChangedError) as refused:
        store.require_person(USER, "Dr Dan Dermatologist", *new)
    assert "Dr Dan Dermatologist's security keys have changed" in refused.value.message
    assert refused.value.code == "key_changed" and USER in refused.value.message
    # The change survives a restart: still blocked.
    store = PinStore(tmp_path / "pins.json")
    with pytest.raises(KeyChangedError):
        store.require_person(USER, "Dr Dan Dermatologist", *new)
    pin = store.accept(USER)
    assert pin.keys == new and pin.pending is None
    assert store.signing_keys(USER) == [new[0], old[0]]  # old messages still verify
    assert store.require_person(USER, "Dr Dan Dermatologist", *new).keys == new
    with pytest.raises(NoPendingChangeError):
        store.accept(USER)


def test_a_verified_key_that_changes_is_a_hard_stop(tmp_path: Path) -> None:
    store = PinStore(tmp_path / "pins.json")
    old, new = keys(), keys()
    store.require_person(USER, "Dr Dan", *old)
    assert store.verify(USER).verified
    with pytest.raises(VerifiedKeyChangedError) as stop:
        store.require_person(USER, "Dr Dan", *new)
    assert stop.value.code == "verified_key_changed"
    # Accepting is not enough for a verified person: they must be verified again.
    with pytest.raises(VerifiedKeyChangedError):
        store.accept(USER)
    pin = store.verify(USER)
    assert pin.keys == new and pin.verified
    # The server going back to the old keys is a change too.
    with pytest.raises(VerifiedKeyChangedError):
        store.require_person(USER, "Dr Dan", *old)


def test_a_change_that_goes_away_clears_the_pending_keys(tmp_path: Path) -> None:
    store = PinStore(tmp_path / "pins.json")
    old, new = keys(), keys()
    store.require_person(USER, "Dr Dan", *old)
    store.observe_person(USER, "Dr Dan", *new)
    pin = store.observe_person(USER, "Dr Dan (locum)", *old, certified=True)
    assert pin.pending is None and pin.certified and pin.name == "Dr Dan (locum)"
    assert store.signing_keys("someone else") == []


def test_records_key_pinned_on_first_use_then_a_swap_is_refused(tmp_path: Path) -> None:
    store = PinStore(tmp_path / "pins.json")
    first, second = generate_key_pair().public_key, generate_key_pair().public_key
    pin = store.check_records_key(ORG, "Elm Surgery", first, None)
    assert pin.records_public_key == first and pin.records_sequence is None
    with pytest.raises(RecordsKeyChangedError) as refused:
        store.check_records_key(ORG, "Elm Surgery", second, None)
    assert "Elm Surgery" in refused.value.message
    # Certifying the same key (sequence 0) keeps it and records the sequence.
    assert store.check_records_key(ORG, "Elm Surgery", first, 0).records_sequence == 0
    # A verified chain moves the pin forward (client_py.directory checks the chain).
    store.advance_records_key(ORG, "Elm Surgery", second, 1)
    reloaded = PinStore(tmp_path / "pins.json").orgs[ORG]
    assert (reloaded.records_public_key, reloaded.records_sequence) == (second, 1)


def test_organisation_key_pinned_then_another_is_a_hard_stop(tmp_path: Path) -> None:
    store = PinStore(tmp_path / "pins.json")
    ok, other = generate_key_pair().public_key, generate_key_pair().public_key
    store.pin_org_key(ORG, "Skin Service", ok)
    store.pin_org_key(ORG, "Skin Service", ok)
    with pytest.raises(OrgKeyChangedError):
        store.pin_org_key(ORG, "Skin Service", other)
    assert PinStore(tmp_path / "pins.json").orgs[ORG].org_public_key == ok


def test_log_pin_round_trip_and_unknown_version(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    store = PinStore(path)
    store.pin_log(b"L" * 65, b"H" * 131)
    again = PinStore(path)
    assert (again.log_public_key, again.tree_head) == (b"L" * 65, b"H" * 131)
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="version"):
        PinStore(path)
