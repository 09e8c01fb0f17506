"""Domain records to wire models: one function per resource, used by both transports.

HTTP answers ``reply(case_out(c))``; Socket.IO emits ``live_case_out(c, o).model_dump(
mode="json")``; both therefore send the same fields with the same encodings (base64url
bytes, ISO 8601 times).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from server.domain.accounts import Authenticated, InviteSummary, PasskeyPolicy
from server.domain.cases import CaseView, StoredOutcome
from server.domain.directory import CaseProofs, Directory, MemberProof, OrgProof
from server.domain.patient_links import link_status
from server.domain.records import (
    Attachment,
    Case,
    Message,
    NotificationSettings,
    Organisation,
    Participant,
    Passkey,
    PatientLink,
    PushSubscription,
    Receipt,
    RecordsKeyPending,
    Session,
    User,
    WrappedCaseKey,
)
from server.domain.transparency import LogRef
from server.wire import schemas as s

__all__ = [
    "attachment_out",
    "case_detail_out",
    "case_out",
    "certification_out",
    "directory_out",
    "invite_summary_out",
    "link_out",
    "live_case_out",
    "live_receipt_out",
    "log_ref_opt",
    "log_ref_out",
    "message_out",
    "org_out",
    "outcome_codes_out",
    "outcome_out",
    "participant_out",
    "passkey_out",
    "passkey_policy_out",
    "pending_out",
    "receipt_out",
    "records_keys_out",
    "session_out",
    "user_out",
    "wrapped_key_out",
]

U = TypeVar("U", bound=s.UserOut)


OrgT = TypeVar("OrgT", bound=s.OrganisationOut)


def org_out(org: Organisation, cls: type[OrgT] = s.OrganisationOut, **extra: Any) -> OrgT:  # type: ignore[assignment]
    return cls(
        org_id=org.org_id,
        kind=org.kind,
        name=org.name,
        records_public_key=org.records_public_key,
        org_key_id=None if org.org_key_id is None else org.org_key_id.hex(),
        **extra,
    )


def log_ref_out(ref: LogRef) -> s.LogRefOut:
    return s.LogRefOut(index=ref.index, entry=ref.entry, proof=ref.proof)


def log_ref_opt(ref: LogRef | None) -> s.LogRefOut | None:
    return None if ref is None else log_ref_out(ref)


def certification_out(proof: MemberProof | None) -> s.CertificationOut | None:
    if proof is None or proof.member is None:
        return None
    return s.CertificationOut(member=log_ref_out(proof.member), invite=log_ref_opt(proof.invite))


def records_keys_out(proof: OrgProof) -> list[s.RecordsKeyLinkOut]:
    return [
        s.RecordsKeyLinkOut(
            statement=log_ref_out(link.statement),
            approvals=[log_ref_out(a) for a in link.approvals],
        )
        for link in proof.records_keys
    ]


def directory_out(d: Directory) -> s.DirectoryResponse:
    """The directory with its log references (``docs/api.md``, "Directory")."""
    members = []
    for u in d.members:
        proof = d.member_proofs.get(u.user_id)
        members.append(
            user_out(
                u,
                s.DirectoryMemberOut,
                certification=certification_out(proof),
                uncertified=None if proof is None else log_ref_opt(proof.uncertified),
            )
        )
    return s.DirectoryResponse(
        tree_head=d.tree_head.head,
        org=org_out(
            d.org,
            s.DirectoryOrgOut,
            org_key=log_ref_opt(d.org_proof.org_key),
            records_keys=records_keys_out(d.org_proof),
        ),
        members=members,
        removals=[log_ref_out(r) for r in d.removals],
    )


def pending_out(p: RecordsKeyPending) -> s.RecordsKeyPendingOut:
    return s.RecordsKeyPendingOut(
        statement=p.statement,
        statement_hash=p.statement_hash.hex(),
        approvals=[a.approval for a in p.approvals],
        proposed_by=p.proposed_by,
        proposed_at=p.proposed_at,
    )


def user_out(user: User, cls: type[U] = s.UserOut, **extra: Any) -> U:  # type: ignore[assignment]
    return cls(
        user_id=user.user_id,
        display_name=user.display_name,
        memberships=[s.MembershipOut(org_id=m.org_id, role=m.role) for m in user.memberships],
        encryption_public_key=user.encryption_public_key,
        signing_public_key=user.signing_public_key,
        totp_enrolled=user.totp_confirmed,
        **extra,
    )


def passkey_out(p: Passkey) -> s.PasskeyOut:
    return s.PasskeyOut(
        passkey_id=p.passkey_id,
        name=p.name,
        credential_id=p.credential_id,
        created_at=p.created_at,
        last_used_at=p.last_used_at,
        transports=list(p.transports),
        backup_eligible=p.backup_eligible,
        backed_up=p.backed_up,
        aaguid=p.aaguid,
        prf_wrap=p.prf_wrap,
    )


def passkey_policy_out(p: PasskeyPolicy) -> s.PasskeyPolicyOut:
    return s.PasskeyPolicyOut(org_id=p.org_id, everyone=p.everyone, roles=list(p.roles))


def session_out(auth: Authenticated, sess: Session) -> s.SessionOut:
    return s.SessionOut(
        session_ref=sess.session_id_hash.hex(),
        current=sess.session_id_hash == auth.session.session_id_hash,
        created_at=sess.created_at,
        last_seen_at=sess.last_seen_at,
        expires_at=sess.expires_at,
        client_address=sess.client_address,
        user_agent=sess.user_agent,
    )


def invite_summary_out(item: InviteSummary) -> s.InviteSummaryOut:
    i = item.invite
    return s.InviteSummaryOut(
        invite_id=item.invite_id,
        org_id=i.org_id,
        role=i.role,
        login_name=i.login_name,
        created_at=i.created_at,
        expires_at=i.expires_at,
        created_by=i.created_by,
        used_at=i.used_at,
        revoked_at=i.revoked_at,
        status=item.status.value,
    )


def case_out(c: Case) -> s.CaseOut:
    return s.CaseOut(
        case_id=c.case_id,
        practice_id=c.practice_id,
        service_id=c.service_id,
        created_by=c.created_by,
        state=c.state,
        priority=c.priority.value,
        created_at=c.created_at,
        updated_at=c.updated_at,
        submitted_at=c.submitted_at,
        claimed_by=c.claimed_by,
        closed_at=c.closed_at,
        outcome_category=c.outcome_category,
        last_seq=c.last_seq,
        key_epoch=c.key_epoch,
    )


def live_case_out(c: Case, outcome: StoredOutcome | None) -> s.LiveCaseOut:
    """The case of the Socket.IO events: :func:`case_out` and the outcome's coded part."""
    return s.LiveCaseOut(
        **dict(case_out(c)),
        outcome=None if outcome is None else outcome_codes_out(outcome),
    )


def _downgrade_out(o: StoredOutcome) -> s.DowngradeOut | None:
    d = o.downgrade
    if d is None:
        return None
    return s.DowngradeOut(
        from_urgency=d.from_urgency, by=d.by, at=d.at, reason_msg_id=d.reason_msg_id
    )


def outcome_codes_out(o: StoredOutcome) -> s.OutcomeCodesOut:
    return s.OutcomeCodesOut(
        category=o.outcome.category,
        urgency=o.outcome.urgency,
        destination=o.outcome.destination,
        reasons=list(o.outcome.reasons),
        downgrade=_downgrade_out(o),
    )


def outcome_out(o: StoredOutcome) -> s.OutcomeOut:
    return s.OutcomeOut(
        **dict(outcome_codes_out(o)),
        payload=o.payload,
        author_id=o.author_id,
        created_at=o.created_at,
    )


def message_out(m: Message) -> s.MessageOut:
    return s.MessageOut(
        case_id=m.case_id,
        seq=m.seq,
        client_msg_id=m.client_msg_id,
        sender_id=m.sender_id,
        envelope=m.envelope,
        created_at=m.created_at,
    )


def participant_out(p: Participant, u: User, proofs: CaseProofs | None = None) -> s.ParticipantOut:
    proof = None if proofs is None else proofs.participants.get(p.user_id)
    return s.ParticipantOut(
        user_id=p.user_id,
        role=p.role,
        display_name=u.display_name,
        encryption_public_key=u.encryption_public_key,
        signing_public_key=u.signing_public_key,
        org_id=None if proofs is None else proofs.participant_orgs.get(p.user_id),
        certification=certification_out(proof),
        uncertified=None if proof is None else log_ref_opt(proof.uncertified),
    )


def case_detail_out(view: CaseView) -> s.CaseDetail:
    """A case as ``GET /api/v1/cases/{id}`` answers it (also after a new epoch), with the
    log references its reader checks the keys against (``docs/api.md``, "Cases")."""
    rotation = view.rotation
    proofs = view.proofs
    return s.CaseDetail(
        tree_head=None if proofs is None else proofs.tree_head.head,
        orgs=[]
        if proofs is None
        else [
            s.CaseOrgOut(
                org_id=o.org_id,
                kind=o.kind,
                name=o.name,
                records_public_key=o.records_public_key,
                org_key_id=None if o.org_key_id is None else o.org_key_id.hex(),
                org_key=log_ref_opt(proof.org_key),
                records_keys=records_keys_out(proof),
            )
            for o, proof in proofs.orgs
        ],
        case=case_out(view.case),
        participants=[participant_out(p, u, proofs) for p, u in view.participants],
        case_keys=[wrapped_key_out(k) for k in view.case_keys],
        outcome=None if view.outcome is None else outcome_out(view.outcome),
        rotation=None
        if rotation is None
        else s.RotationOut(next_epoch=rotation.next_epoch, removed=list(rotation.removed)),
        removed=[
            s.RemovedOut(
                user_id=r.user_id,
                log=None if proofs is None else log_ref_opt(proofs.removals.get(r.user_id)),
            )
            for r in view.removals
        ],
    )


def wrapped_key_out(k: WrappedCaseKey) -> s.WrappedKeyOut:
    return s.WrappedKeyOut(
        epoch=k.epoch,
        recipient_kind=k.recipient_kind.value,
        recipient_id=k.recipient_id,
        wrapped_key=k.wrapped_key,
    )


def receipt_out(r: Receipt) -> s.ReceiptOut:
    return s.ReceiptOut(user_id=r.user_id, kind=r.kind.value, seq=r.seq, updated_at=r.updated_at)


def live_receipt_out(r: Receipt) -> s.LiveReceiptOut:
    return s.LiveReceiptOut(**dict(receipt_out(r)), case_id=r.case_id)


def attachment_out(a: Attachment) -> s.AttachmentOut:
    return s.AttachmentOut(
        attachment_id=a.attachment_id,
        uploader_id=a.uploader_id,
        size=a.size,
        ciphertext_sha256=a.ciphertext_sha256.hex(),
        created_at=a.created_at,
    )


def link_out(link: PatientLink, now: dt.datetime) -> s.PatientLinkOut:
    return s.PatientLinkOut(
        link_id=link.link_id,
        case_id=link.case_id,
        created_by=link.created_by,
        created_at=link.created_at,
        expires_at=link.expires_at,
        max_photos=link.max_photos,
        uploads=link.uploads,
        used_at=link.used_at,
        revoked_at=link.revoked_at,
        status=link_status(link, now),  # type: ignore[arg-type]
    )


def push_subscription_out(sub: PushSubscription) -> s.PushSubscriptionOut:
    """A subscription as its owner sees it: the id and when (never the endpoint or keys)."""
    return s.PushSubscriptionOut(subscription_id=sub.subscription_id, created_at=sub.created_at)


def notification_settings_out(
    settings: NotificationSettings, subs: list[PushSubscription], email_available: bool
) -> s.NotificationSettingsOut:
    return s.NotificationSettingsOut(
        sound=settings.sound,
        email=settings.email,
        email_available=email_available,
        subscriptions=[push_subscription_out(x) for x in subs],
    )
