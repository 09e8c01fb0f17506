"""The ``dermline`` command line.

    dermline serve --data-dir DIR --host HOST --port PORT [--tls-cert F --tls-key F]
    dermline db migrate
    dermline keys rotate [--new-master-key]
    dermline org create --kind practice|service --name NAME [--records-key-file F]
    dermline invite --org ORG_ID --role ROLE [--login-name NAME]
    dermline invites list --org ORG_ID
    dermline invites revoke --org ORG_ID --id INVITE_ID
    dermline users list --org ORG_ID
    dermline users disable --user USER_ID
    dermline users remove-role --user USER_ID --org ORG_ID --role ROLE
    dermline sessions revoke --user USER_ID
    dermline setup-link
    dermline audit verify | checkpoint
    dermline transparency key
    dermline retention run [--dry-run] | status --case ID | holds --org ORG
    dermline retention hold --case ID --reason R --records-officer USER_ID [--reference REF]
    dermline retention release --case ID | minimum --org ORG [--years N]
    dermline backup --out DIR | backup verify DIR [--master-key-file F]
    dermline restore DIR --data-dir D [--master-key-file F]

Every command takes ``--data-dir`` and ``--config`` (TOML); ``DERMLINE_*`` environment
variables override the file (``server.settings``). Administration commands act as the
local operator (no signed-in user) and are audited with no actor. Invite tokens are printed
to stdout once, for the operator to hand over; they never go to the log.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import os
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

import storage
from crypto.fingerprint import key_id, spki_der
from server import gc_tuning
from server.domain.clock import SystemClock
from server.errors import DomainError
from server.keyfile import load_server_secret
from server.logs import configure_logging
from server.services import Services, build_services
from server.settings import Settings, SettingsError, load_settings
from storage import LegalHoldReason, OrgKind, Role

__all__ = ["main"]

T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=None)
    common.add_argument("--config", type=Path, default=None, help="TOML settings file")
    parser = argparse.ArgumentParser(prog="dermline", description="Dermline server")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="start the server")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--tls-cert", type=Path, default=None)
    serve.add_argument("--tls-key", type=Path, default=None)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("migrate", parents=[common], help="apply pending migrations")

    keys = sub.add_parser("keys", help="at-rest keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser("rotate", parents=[common], help="rotate at-rest keys")
    rotate.add_argument(
        "--new-master-key",
        action="store_true",
        help="also replace the master key (a new key file is written, printed once)",
    )

    org = sub.add_parser("org", help="organisations")
    org_sub = org.add_subparsers(dest="org_command", required=True)
    create = org_sub.add_parser("create", parents=[common], help="create an organisation")
    create.add_argument("--kind", choices=[k.value for k in OrgKind], required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--records-key-file", type=Path, default=None)
    org_sub.add_parser("list", parents=[common], help="list organisations")

    invite = sub.add_parser("invite", parents=[common], help="invite a person to a role")
    invite.add_argument("--org", required=True)
    invite.add_argument("--role", choices=[r.value for r in Role], required=True)
    invite.add_argument("--login-name", default=None)

    invites = sub.add_parser("invites", help="an organisation's invites")
    invites_sub = invites.add_subparsers(dest="invites_command", required=True)
    inv_list = invites_sub.add_parser("list", parents=[common], help="list invites and status")
    inv_list.add_argument("--org", required=True)
    inv_revoke = invites_sub.add_parser("revoke", parents=[common], help="cancel an unused invite")
    inv_revoke.add_argument("--org", required=True)
    inv_revoke.add_argument("--id", required=True, dest="invite_id", help="id from 'invites list'")

    users = sub.add_parser("users", help="users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    lst = users_sub.add_parser("list", parents=[common], help="list users of an organisation")
    lst.add_argument("--org", required=True)
    dis = users_sub.add_parser(
        "disable", parents=[common], help="disable an account (and take it off every case)"
    )
    dis.add_argument("--user", required=True)
    rr = users_sub.add_parser(
        "remove-role", parents=[common], help="take one role in an organisation away"
    )
    rr.add_argument("--user", required=True)
    rr.add_argument("--org", required=True)
    rr.add_argument("--role", required=True, choices=[r.value for r in storage.Role])

    sessions = sub.add_parser("sessions", help="sessions")
    sessions_sub = sessions.add_subparsers(dest="sessions_command", required=True)
    revoke = sessions_sub.add_parser("revoke", parents=[common], help="revoke a user's sessions")
    revoke.add_argument("--user", required=True)

    sub.add_parser("setup-link", parents=[common], help="print a first-admin setup link")

    transparency = sub.add_parser("transparency", help="the key transparency log")
    t_sub = transparency.add_subparsers(dest="transparency_command", required=True)
    t_sub.add_parser("key", parents=[common], help="print the log key (publish it; clients pin it)")

    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", parents=[common], help="verify the hash chain and checkpoints")
    audit_sub.add_parser("checkpoint", parents=[common], help="sign the chain's head now")
    _retention_parser(sub, common)
    _backup_parser(sub, common)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {"data_dir": args.data_dir}
    for name in ("host", "port", "tls_cert", "tls_key"):
        overrides[name] = getattr(args, name, None)
    settings = load_settings(config_file=args.config, overrides=overrides)
    if settings.static_dir is None:
        dist = Path("client_web/dist")
        if dist.is_dir():
            settings = load_settings(
                config_file=args.config, overrides={**overrides, "static_dir": dist}
            )
    return settings


async def _with_services(
    settings: Settings, fn: Callable[[Services, storage.Storage], Awaitable[T]]
) -> T:
    """Run ``fn`` with the domain services and, for the operator's maintenance commands
    (key rotation, the audit chain, listing every organisation), the store itself."""
    from server.app import storage_config

    store = await storage.open_storage(storage_config(settings))
    try:
        services = build_services(
            settings, store, SystemClock(), load_server_secret(settings.data_dir)
        )
        return await fn(services, store)
    finally:
        await store.close()


def _setup_url(settings: Settings, token: str) -> str:
    return f"{settings.origins()[0]}/#/invite/{token}"


def _invite_url(settings: Settings, token: str) -> str:
    return f"{settings.origins()[0]}/#/invite/{token}"


def _serve(settings: Settings) -> int:
    from server.app import create_app

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ssl_context = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
        ssl_context.load_cert_chain(settings.tls_cert, settings.tls_key)

    async def first_admin_link() -> None:
        link = await _with_services(
            settings, lambda svc, _store: svc.organisations.first_admin_invite()
        )
        if link is not None:
            # stdout, not the log: the operator needs it once; the log is kept.
            print(
                "No administrator yet. Open this one-time setup link to create the first one:\n"
                f"  {_setup_url(settings, link)}",
                flush=True,
            )

    asyncio.run(first_admin_link())
    app = create_app(settings)

    async def settle_gc(_app: web.Application) -> None:
        gc_tuning.settle_after_startup()  # after every other start-up step (server.gc_tuning)

    app.on_startup.append(settle_gc)
    print(f"Dermline listening on {settings.scheme}://{settings.host}:{settings.port}", flush=True)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context=ssl_context,
        access_log=None,
        print=None,
        shutdown_timeout=5,
    )
    return 0


async def _admin(args: argparse.Namespace, settings: Settings) -> int:
    cmd = args.command
    if cmd == "db":
        from server.app import storage_config

        store = await storage.open_storage(storage_config(settings), migrate=True)
        try:
            print(f"schema version {await store.schema_version()}")
        finally:
            await store.close()
        return 0
    if cmd == "keys":
        new_key = os.urandom(32) if args.new_master_key else None

        async def rotate(_svc: Services, store: storage.Storage) -> storage.RotationReport:
            return await store.rotate_keys(new_master_key=new_key)

        report = await _with_services(settings, rotate)
        print(
            f"rotated: master key {'yes' if report.master_key_rotated else 'no'}, "
            f"{report.rows_reencrypted} rows and {report.blobs_reencrypted} blobs re-encrypted"
        )
        if new_key is not None:
            print("new master key (store it safely, shown once):")
            print(base64.b64encode(new_key).decode())
        return 0

    async def run(svc: Services, store: storage.Storage) -> int:
        if cmd == "retention":
            return await _retention_command(args, svc)
        acc = svc.organisations
        if cmd == "org" and args.org_command == "create":
            key = args.records_key_file.read_bytes() if args.records_key_file else None
            org = await acc.create_organisation(
                OrgKind(args.kind), args.name, records_public_key=key, actor=None, client="cli"
            )
            print(org.org_id)
        elif cmd == "org":
            for o in await store.list_organisations():
                print(f"{o.org_id}\t{o.kind.value}\t{o.name}")
        elif cmd == "invite":
            token, inv = await acc.invite(
                None, args.org, Role(args.role), login_name=args.login_name, client="cli"
            )
            print(f"invite link (single use, expires {inv.expires_at.isoformat()}):")
            print(f"  {_invite_url(settings, token)}")
        elif cmd == "invites" and args.invites_command == "list":
            for item in await acc.list_invites(None, args.org, "cli"):
                i = item.invite
                print(
                    f"{item.invite_id}\t{item.status.value}\t{i.role.value}\t"
                    f"{i.login_name or '-'}\t{i.created_at.isoformat()}\t{i.expires_at.isoformat()}"
                )
        elif cmd == "invites":
            await acc.revoke_invite(None, args.org, args.invite_id, "cli")
            print("invite cancelled")
        elif cmd == "users" and args.users_command == "disable":
            user = await svc.administration.disable_user(None, args.user, "cli")
            print(f"disabled {user.user_id}; its cases need a new key epoch")
        elif cmd == "users" and args.users_command == "remove-role":
            role = storage.Role(args.role)
            await svc.administration.remove_membership(None, args.org, args.user, role, "cli")
            print(f"removed {role.value} in {args.org}; its cases there need a new key epoch")
        elif cmd == "users":
            for u in await svc.administration.list_users(None, args.org):
                roles = ",".join(sorted(f"{m.role.value}@{m.org_id}" for m in u.memberships))
                print(f"{u.user_id}\t{u.login_name}\t{u.display_name}\t{roles}")
        elif cmd == "sessions":
            count = await svc.administration.revoke_user_sessions(None, args.user, "cli")
            print(f"revoked {count} sessions")
        elif cmd == "transparency":
            public = await store.log_public_key()
            head = await svc.transparency.head()
            digest = hashlib.sha256(spki_der(public)).hexdigest()
            print(f"log key id:          {key_id(public).hex()}")
            print(f"log key SHA-256:     {' '.join(digest[i : i + 4] for i in range(0, 64, 4))}")
            print(f"log public key:      {base64.urlsafe_b64encode(public).rstrip(b'=').decode()}")
            print(f"log size:            {head.tree_size}")
        elif cmd == "audit" and args.audit_command == "verify":
            try:
                result = await store.verify_audit()
            except storage.AuditIntegrityError as exc:
                print(f"audit log does NOT verify at entry {exc.seq}: {exc.reason}")
                return 3
            print(
                f"audit log verifies: {result.entries} entries, "
                f"{result.checkpoints} signed checkpoints, head {result.head_hash.hex()[:16]}"
            )
        elif cmd == "audit":
            cp = await store.checkpoint_audit(svc.clock.now())
            print(f"checkpoint at entry {cp.seq}")
        elif cmd == "setup-link":
            setup = await acc.first_admin_invite()
            if setup is None:
                print("an administrator exists already", file=sys.stderr)
                return 1
            print(_setup_url(settings, setup))
        return 0

    return await _with_services(settings, run)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"dermline: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_file)
    try:
        if args.command == "serve":
            return _serve(settings)
        if args.command in ("backup", "restore"):
            return asyncio.run(_backup_command(args, settings))
        return asyncio.run(_admin(args, settings))
    except (DomainError, storage.StorageError) as exc:
        print(f"dermline: {exc}", file=sys.stderr)
        return 1


# ---------------------------------------------------------------------- retention
# Records retention (docs/operations.md, "Retention"): the operator's commands. Output is
# ids, codes and dates only.


def _retention_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    retention = sub.add_parser("retention", help="records retention and legal holds")
    r_sub = retention.add_subparsers(dest="retention_command", required=True)
    run = r_sub.add_parser("run", parents=[common], help="dispose of cases past their date")
    run.add_argument("--dry-run", action="store_true", help="list what would go, change nothing")
    status = r_sub.add_parser("status", parents=[common], help="a case's retention and hold")
    status.add_argument("--case", required=True, dest="case_id")
    holds = r_sub.add_parser("holds", parents=[common], help="legal holds of an organisation")
    holds.add_argument("--org", required=True)
    hold = r_sub.add_parser("hold", parents=[common], help="place a legal hold on a case")
    hold.add_argument("--case", required=True, dest="case_id")
    hold.add_argument("--reason", required=True, choices=[r.value for r in LegalHoldReason])
    hold.add_argument(
        "--records-officer", required=True, help="user id of the officer who asked for it"
    )
    hold.add_argument("--reference", default=None, help="the officer's reference (sealed)")
    release = r_sub.add_parser("release", parents=[common], help="release a legal hold")
    release.add_argument("--case", required=True, dest="case_id")
    minimum = r_sub.add_parser("minimum", parents=[common], help="an organisation's minimum")
    minimum.add_argument("--org", required=True)
    minimum.add_argument("--years", type=int, default=None, help="set it (0..100)")


def _hold_line(h: storage.LegalHold) -> str:
    return f"{h.case_id}\t{h.reason.value}\t{h.placed_by}\t{h.placed_at.isoformat()}"


async def _retention_command(args: argparse.Namespace, svc: Services) -> int:
    r = svc.retention
    cmd = args.retention_command
    if cmd == "run":
        report = await r.run(dry_run=args.dry_run)
        for c in report.due:
            done = "skipped" if c.case_id in report.skipped else "disposed"
            what = "due" if args.dry_run else done
            print(f"{what}\t{c.case_id}\t{c.basis.value}\t{c.keep_until.isoformat()}")
        verb = "would dispose of" if args.dry_run else "disposed of"
        count = len(report.due) if args.dry_run else len(report.disposed)
        print(f"{verb} {count} cases")
    elif cmd == "status":
        st = await r.status(None, args.case_id)
        keep = "-" if st.keep_until is None else st.keep_until.isoformat()
        print(f"case {st.case_id}")
        print(f"retain until (client date): {st.retain_until or '-'}")
        print(f"may be disposed of from: {keep} ({st.basis.value if st.basis else 'open'})")
        print(f"legal hold: {_hold_line(st.hold) if st.hold else '-'}")
        print(f"disposed of: {st.disposed_at.isoformat() if st.disposed_at else '-'}")
    elif cmd == "holds":
        for h in await r.holds(None, args.org):
            print(_hold_line(h))
    elif cmd == "hold":
        h = await r.place_hold(
            None,
            args.case_id,
            LegalHoldReason(args.reason),
            args.reference,
            "cli",
            placed_by=args.records_officer,
        )
        print(f"legal hold placed: {_hold_line(h)}")
    elif cmd == "release":
        h = await r.release_hold(None, args.case_id, "cli")
        print(f"legal hold released: {_hold_line(h)}")
    elif args.years is None:
        p = await r.org_minimum(None, args.org)
        print(f"{p.org_id}\tminimum {p.min_years} years")
    else:
        p = await r.set_org_minimum(None, args.org, args.years, "cli")
        print(f"{p.org_id}\tminimum {p.min_years} years")
    return 0


# ---------------------------------------------------------------------- backups
# Backups of a SQLite deployment (docs/operations.md, "Backups"; storage/backup.py).
# PostgreSQL deployments use pg_dump or PITR, as that section shows.


def _backup_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    key = argparse.ArgumentParser(add_help=False)
    key.add_argument(
        "--master-key-file",
        type=Path,
        default=None,
        help="the master key file kept apart from the backup (else the data folder's, or "
        "DERMLINE_MASTER_KEY)",
    )
    backup = sub.add_parser("backup", parents=[common], help="back up while serving")
    backup.add_argument("--out", type=Path, default=None, help="an empty or new folder")
    b_sub = backup.add_subparsers(dest="backup_command")
    verify = b_sub.add_parser("verify", parents=[common, key], help="check a backup fully")
    verify.add_argument("dir", type=Path)
    restore = sub.add_parser("restore", parents=[common, key], help="restore a backup")
    restore.add_argument("dir", type=Path)


async def _backup_command(args: argparse.Namespace, settings: Settings) -> int:
    from server.app import storage_config
    from storage.backup import BackupError, backup_sqlite, restore_sqlite, verify_backup

    config = storage_config(settings)
    if config.backend != "sqlite":
        print(
            "dermline: backups of a PostgreSQL deployment are made with pg_dump or PITR "
            "(docs/operations.md, section Backups)",
            file=sys.stderr,
        )
        return 1
    key_file: Path | None = getattr(args, "master_key_file", None)
    try:
        if key_file is not None and args.command == "restore":
            # The restored folder gets its own copy (0600), as the server expects it.
            _install_key_file(key_file, config.resolved_master_key_file)
        elif key_file is not None:
            config = dataclasses.replace(config, master_key_file=key_file)
        if args.command == "backup" and args.backup_command is None:
            if args.out is None:
                print("dermline: say where: dermline backup --out DIR", file=sys.stderr)
                return 2
            m = await asyncio.to_thread(backup_sqlite, config, args.out)
            print(
                f"backup written to {args.out}: schema version {m.schema_version}, "
                f"{len(m.blobs)} blobs, database sha256 {m.database_sha256[:16]}; "
                f"it needs master key {', '.join(m.master_key_ids)} (not in the backup)"
            )
            return 0
        if args.command == "backup":
            report = await verify_backup(args.dir, config)
            verb = "backup verifies"
        else:
            report = await restore_sqlite(args.dir, config)
            verb = f"restored into {settings.data_dir}"
    except storage.AuditIntegrityError as exc:
        print(f"audit log does NOT verify at entry {exc.seq}: {exc.reason}")
        return 3
    except BackupError as exc:
        print(f"dermline: {exc}", file=sys.stderr)
        return 1
    print(
        f"{verb}: schema version {report.schema_version}, {report.cases} cases, "
        f"{report.messages} messages, {report.blobs} blobs; audit log verifies: "
        f"{report.audit_entries} entries, {report.audit_checkpoints} signed checkpoints, "
        f"head {report.audit_head.hex()[:16]}"
    )
    return 0


def _install_key_file(source: Path, dest: Path) -> None:
    from storage.backup import BackupError

    try:
        data = source.read_bytes()
    except OSError:
        raise BackupError("the master key file cannot be read") from None
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if dest.exists():
        if dest.read_bytes() != data:
            raise BackupError("the data folder holds another master key file")
        return
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
