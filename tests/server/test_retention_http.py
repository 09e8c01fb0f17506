"""Retention over HTTP with the Python client and real crypto, on SQLite: the closing
client's date, the records officer's routes, and a disposal that leaves no byte of the
case in the database file, its WAL or the blob folder (``docs/storage.md`` section 14)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from client_py.api import ApiError, b64d
from client_py.retention import parse_date, retention_for
from crypto.content import ContentType
from server.cli import main
from tests.samples import HISTORY
from tests.server.harness import Live, Person, World, live_server, make_world

#: Tables whose sealed values belong to a case (what the disposal must destroy).
CASE_TABLES = ("case_keys", "messages", "outcomes", "attachments", "patient_links")


async def _officer(live: Live, w: World, org_id: str, name: str) -> Person:
    return await live.person(
        await w.admin.client.invite(org_id, "records_officer"), f"{name}@example.org", name
    )


async def _closed_case(w: World, *, photo: bytes) -> str:
    gp, derm = w.gp.client, w.derm.client
    case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
    await gp.upload_photo(case_id, photo, tag="close_up", body_site="left forearm")
    await derm.move(case_id, "claim")
    await derm.close_case(
        case_id,
        "advice_and_guidance",
        "emollients twice a day",
        date_of_birth=HISTORY["patient"]["date_of_birth"],
    )
    return case_id


def _sealed_values(db: Path, case_id: str) -> tuple[list[bytes], list[str]]:
    """Every sealed value stored for the case, and its blob ids (read as a thief would)."""
    values: list[bytes] = []
    with sqlite3.connect(db) as conn:
        for table in CASE_TABLES:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            sealed = [c for c in cols if c.endswith("_sealed")]
            for row in conn.execute(
                f"SELECT {', '.join(sealed)} FROM {table} WHERE case_id = ?", (case_id,)
            ):
                values += [bytes(v) for v in row if v is not None]
        blobs = [
            r[0]
            for r in conn.execute("SELECT blob_id FROM attachments WHERE case_id = ?", (case_id,))
        ]
    conn.close()
    return values, blobs


def _needles(values: list[bytes]) -> list[bytes]:
    """Each value whole and a 32-byte window from its middle (a partial copy counts)."""
    out = []
    for v in values:
        out.append(v)
        if len(v) > 64:
            out.append(v[len(v) // 2 : len(v) // 2 + 32])
    return out


def _files(data_dir: Path) -> dict[str, bytes]:
    found = {}
    for path in [data_dir / "dermline.sqlite3", data_dir / "dermline.sqlite3-wal"]:
        if path.exists():
            found[path.name] = path.read_bytes()
    for path in sorted((data_dir / "blobs").rglob("*")):
        if path.is_file():
            found[str(path.relative_to(data_dir))] = path.read_bytes()
    return found


def _found(files: dict[str, bytes], needles: list[bytes]) -> list[tuple[str, int]]:
    return [(name, i) for i, n in enumerate(needles) for name, data in files.items() if n in data]


async def test_disposal_leaves_no_byte_of_the_case(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gone = await _closed_case(w, photo=b"\xff\xd8 the disposed photo " * 2000)
        kept = await _closed_case(w, photo=b"\xff\xd8 the kept photo " * 2000)
        # The kept case is held: the same scan must find all of its bytes (the control).
        officer = await _officer(live, w, w.practice_id, "records")
        await officer.client.api.put(
            f"/api/v1/cases/{kept}/legal-hold", {"reason": "litigation", "reference": "CLM-7"}
        )
        db = tmp_path / "dermline.sqlite3"
        gone_values, gone_blobs = _sealed_values(db, gone)
        kept_values, kept_blobs = _sealed_values(db, kept)
        assert len(gone_values) >= 10 and len(gone_blobs) == 1
        # The end-to-end ciphertext too (what the clients sent: envelopes and wraps).
        detail = await w.derm.client.get_case(gone)
        e2e = [b64d(m["envelope"]) for m in await w.derm.client.messages(gone)]
        e2e += [b64d(k["wrapped_key"]) for k in detail["case_keys"]]
        blob_files = [
            p.read_bytes() for b in gone_blobs for p in (tmp_path / "blobs").rglob(f"{b}.blob")
        ]
        assert len(blob_files) == 1
        needles = _needles(gone_values + e2e + blob_files)

        live.clock.set(dt.datetime(2035, 1, 1, tzinfo=dt.UTC))
        report = await live.services.retention.run(dry_run=False)
        assert [d.case_id for d in report.disposed] == [gone]

        files = _files(tmp_path)
        assert len(files.get("dermline.sqlite3-wal", b"")) == 0  # checkpointed and truncated
        assert _found(files, needles) == []
        # The control: every sealed value and the blob of the held case are still there.
        kept_blob = [p.read_bytes() for p in (tmp_path / "blobs").rglob(f"{kept_blobs[0]}.blob")]
        assert len(_found(files, kept_values + kept_blob)) >= len(kept_values) + 1

        # The tombstone answers; the content is gone; the audit chain verifies.
        again = await live.relogin(officer)  # eight years on: sessions have ended
        status = await again.api.get(f"/api/v1/cases/{gone}/retention")
        assert status["disposed_at"] == "2035-01-01T00:00:00Z"
        assert await (await live.relogin(w.derm)).messages(gone) == []
        await live.store.verify_audit()
        entries = await live.store.list_audit(limit=10_000)
        disposed = [e.event for e in entries if e.event.action == "case.disposed"]
        assert [e.target for e in disposed] == [gone]
        assert json.loads(disposed[0].detail)["destroyed"]["blobs"] == 1


async def test_closing_client_sends_the_date_and_officers_manage_holds(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        case_id = await _closed_case(w, photo=b"photo")
        expected = retention_for(
            parse_date(HISTORY["patient"]["date_of_birth"]), dt.datetime.now(dt.UTC).date()
        ).retain_until
        officer = await _officer(live, w, w.practice_id, "records")
        api = officer.client.api
        status = await api.get(f"/api/v1/cases/{case_id}/retention")
        assert status["retain_until"] == expected.isoformat()
        assert status["basis"] == "client_date" and status["legal_hold"] is None

        # The GP who referred may not hold; the officer may, once.
        with pytest.raises(ApiError) as e:
            await w.gp.client.api.put(f"/api/v1/cases/{case_id}/legal-hold", {"reason": "other"})
        assert e.value.status == 403
        hold = await api.put(
            f"/api/v1/cases/{case_id}/legal-hold", {"reason": "complaint", "reference": "C-19"}
        )
        assert (hold["reason"], hold["reference"], hold["placed_by"]) == (
            "complaint",
            "C-19",
            officer.user_id,
        )
        with pytest.raises(ApiError) as e:
            await api.put(f"/api/v1/cases/{case_id}/legal-hold", {"reason": "complaint"})
        assert (e.value.status, e.value.code) == (409, "conflict")
        listed = await api.get(f"/api/v1/orgs/{w.practice_id}/legal-holds")
        assert [h["case_id"] for h in listed["holds"]] == [case_id]
        await api.delete(f"/api/v1/cases/{case_id}/legal-hold")
        assert (await api.get(f"/api/v1/cases/{case_id}/retention"))["legal_hold"] is None

        # The organisation's minimum lengthens the case's retention at once.
        policy = await api.put(f"/api/v1/orgs/{w.practice_id}/retention", {"min_years": 30})
        assert policy["min_years"] == 30
        status = await api.get(f"/api/v1/cases/{case_id}/retention")
        assert status["basis"] == "organisation_minimum"
        with pytest.raises(ApiError) as e:
            await api.put(f"/api/v1/orgs/{w.practice_id}/retention", {"min_years": 101})
        assert e.value.status == 422

        # A date that is not a coarse, long-enough one refuses the closure.
        other = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        await w.derm.client.move(other, "claim")
        _id, envelope = await w.derm.client.seal(
            other,
            ContentType.OUTCOME,
            {"category": "advice_and_guidance", "summary": "x", "details": {}},
        )
        body = {
            "outcome": {"category": "advice_and_guidance", "payload": envelope},
            "retention": {"retain_until": "2027-12-31"},
        }
        with pytest.raises(ApiError) as e:
            await w.derm.client.api.post(f"/api/v1/cases/{other}/close", body)
        assert (e.value.status, e.value.code) == (422, "validation_failed")
        assert (await w.derm.client.get_case(other))["case"]["state"] == "in_review"


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, list(argv))  # the command runs its own loop
    out = capsys.readouterr()
    return code, out.out + out.err


async def test_retention_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's commands on a data folder whose case closed in 2010 (the real clock:
    it is due), with a hold placed and released on a records officer's instruction."""
    monkeypatch.delenv("DERMLINE_CONFIG", raising=False)
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        officer = await _officer(live, w, w.practice_id, "records")
        live.clock.set(dt.datetime(2010, 3, 1, tzinfo=dt.UTC))
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        await w.derm.client.move(case_id, "claim")
        await w.derm.client.close_case(case_id, "advice_and_guidance", "done")
    d = str(tmp_path)
    code, out = await _cli(capsys, "retention", "status", "--data-dir", d, "--case", case_id)
    assert code == 0 and "(no_client_date)" in out and "2037-" in out  # 9,882 days on
    code, out = await _cli(capsys, "retention", "minimum", "--data-dir", d, "--org", w.practice_id)
    assert code == 0 and out.strip().endswith("minimum 0 years")
    code, out = await _cli(capsys, "retention", "run", "--data-dir", d, "--dry-run")
    assert code == 0 and out.strip() == "would dispose of 0 cases"  # 2037 is still to come

    # Pretend the client had sent a date (2018): the case is due now.
    from storage import StorageConfig, open_storage

    store = await open_storage(StorageConfig(data_dir=tmp_path))
    try:
        await store.set_case_retention(
            case_id, dt.date(2018, 12, 31), dt.datetime(2010, 3, 2, tzinfo=dt.UTC)
        )
    finally:
        await store.close()
    hold = (
        "retention", "hold", "--data-dir", d, "--case", case_id, "--reason", "inquiry",
        "--records-officer", officer.user_id, "--reference", "INQ-1",
    )  # fmt: skip
    code, out = await _cli(capsys, *hold)
    assert code == 0 and out.startswith("legal hold placed") and "INQ-1" not in out
    code, out = await _cli(capsys, "retention", "holds", "--data-dir", d, "--org", w.practice_id)
    assert code == 0 and out.startswith(f"{case_id}\tinquiry\t{officer.user_id}")
    code, out = await _cli(capsys, "retention", "run", "--data-dir", d, "--dry-run")
    assert out.strip() == "would dispose of 0 cases"
    code, out = await _cli(capsys, *hold)
    assert code == 1 and "legal hold already" in out
    code, out = await _cli(capsys, "retention", "release", "--data-dir", d, "--case", case_id)
    assert code == 0 and out.startswith("legal hold released")
    code, out = await _cli(capsys, "retention", "run", "--data-dir", d, "--dry-run")
    assert out.splitlines() == [
        f"due\t{case_id}\tclient_date\t2019-01-01T00:00:00+00:00",
        "would dispose of 1 cases",
    ]
    code, out = await _cli(capsys, "retention", "run", "--data-dir", d)
    assert code == 0 and out.splitlines()[-1] == "disposed of 1 cases"
    code, out = await _cli(capsys, "audit", "verify", "--data-dir", d)
    assert code == 0 and "audit log verifies" in out
    code, out = await _cli(capsys, "retention", "status", "--data-dir", d, "--case", case_id)
    assert "disposed of: 20" in out
    code, out = await _cli(
        capsys, "retention", "minimum", "--data-dir", d, "--org", w.practice_id, "--years", "200"
    )
    assert code == 1
