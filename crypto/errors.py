"""Errors of the protocol core.

Two kinds, split by who is at fault (after h11 and pyca):

* misuse by our own caller (wrong type, wrong length of a key we generated, a bad argument)
  raises the built-in ``TypeError`` or ``ValueError``;
* hostile or corrupted input from a peer or from storage raises a subclass of
  :class:`CryptoError`. Its message is fixed and never says which check failed; each public
  operation raises exactly one such class, whatever went wrong inside it.

The one deliberate exception is :class:`RecoveryKeyFormatError`: it is a ``ValueError`` about
the user's own typing of a recovery key, raised before any key is used, and its message is
meant to help the person correct a typo (it never repeats what was typed).
"""

from __future__ import annotations

__all__ = [
    "AttachmentError",
    "AuditCheckpointError",
    "CaseKeyUnwrapError",
    "CaseKeyWrapHeaderError",
    "CaseKeyWrapSignatureError",
    "ConsistencyProofError",
    "ContentError",
    "CryptoError",
    "InclusionProofError",
    "InviteLinkFormatError",
    "InviteStatementError",
    "KdfParamsError",
    "LogEntryError",
    "MemberStatementError",
    "MessageHeaderError",
    "MessageOpenError",
    "MessageSignatureError",
    "OrgKeyHandoverError",
    "OrgKeyUnwrapError",
    "OrgKeyWrapHeaderError",
    "OrganisationKeyStatementError",
    "PatientDropError",
    "PatientLinkFormatError",
    "PrimitiveError",
    "PrivateKeyUnsealError",
    "PublicKeyError",
    "PushSubscriptionKeyError",
    "RecordsKeyChainError",
    "RecordsKeyFileError",
    "RecoveryKeyFormatError",
    "StatementError",
    "StatementSignatureError",
    "SuiteDowngradeError",
    "TreeHeadError",
    "TreeHeadSignatureError",
    "UskKekUnwrapError",
    "UskOrgUnwrapError",
    "UskPasskeyUnwrapError",
    "UskRecoveryUnwrapError",
    "UskUnwrapError",
]


class CryptoError(Exception):
    """Base class: the input was hostile or corrupted. Deliberately says nothing more."""

    message = "invalid or corrupted record"

    def __init__(self) -> None:
        super().__init__(self.message)


class PrimitiveError(CryptoError):
    """A primitive (AEAD, HPKE, ECDH, ECDSA, chunked AEAD) rejected its input."""

    message = "primitive rejected its input"


class KdfParamsError(CryptoError):
    """``parse_kdf_params``: the KDF-parameters record from the server is not acceptable."""

    message = "invalid KDF parameters record"


class UskUnwrapError(CryptoError):
    """Base of the USK unwrap errors."""

    message = "cannot unwrap the user key"


class UskKekUnwrapError(UskUnwrapError):
    """``unwrap_usk_with_kek``: wrong password (KEK) or corrupted record."""

    message = "cannot unwrap the user key with this password"


class UskRecoveryUnwrapError(UskUnwrapError):
    """``unwrap_usk_with_recovery_key``: wrong recovery key or corrupted record."""

    message = "cannot unwrap the user key with this recovery key"


class UskOrgUnwrapError(UskUnwrapError):
    """``unwrap_usk_for_org``: wrong organisation key or corrupted record."""

    message = "cannot unwrap the user key with the organisation key"


class UskPasskeyUnwrapError(UskUnwrapError):
    """``unwrap_usk_with_passkey``: another passkey's PRF output, another credential or user,
    or a corrupted record."""

    message = "cannot unwrap the user key with this passkey"


class SuiteDowngradeError(CryptoError):
    """A suite-1 (classical) wrap to a recipient known to hold a hybrid (suite 2) key."""

    message = "classical wrap where the post-quantum suite is required"


class RecoveryKeyFormatError(ValueError):
    """The text typed as a recovery key is not one (length, alphabet or checksum)."""


class RecordsKeyFileError(CryptoError):
    """``open_records_key_file``: wrong passphrase or damaged file."""

    message = "cannot open the records key file"


class PublicKeyError(CryptoError):
    """A public key from a peer or the directory is not a valid P-256 point (or, where a
    hybrid key is expected, not a valid X-Wing key)."""

    message = "invalid public key"


class PrivateKeyUnsealError(CryptoError):
    """``unseal_private_key``: wrong USK, wrong user, wrong purpose or corrupted record."""

    message = "cannot unseal the private key"


class CaseKeyWrapHeaderError(CryptoError):
    """``parse_case_key_wrap_header``: not a well-formed case-key wrap record."""

    message = "invalid case key wrap record"


class CaseKeyWrapSignatureError(CryptoError):
    """``verify_case_key_wrap``: malformed record or bad signature."""

    message = "case key wrap record does not verify"


class CaseKeyUnwrapError(CryptoError):
    """``open_case_key_wrap``: anything wrong with a case-key wrap record."""

    message = "cannot open the case key wrap record"


class MessageHeaderError(CryptoError):
    """``parse_message_header``: not a well-formed message envelope."""

    message = "invalid message envelope"


class MessageOpenError(CryptoError):
    """``open_message``: bad signature, wrong key or context, or corrupted envelope."""

    message = "cannot open the message"


class MessageSignatureError(CryptoError):
    """``verify_message_signature``: malformed envelope or bad signature."""

    message = "message signature does not verify"


class ContentError(CryptoError):
    """``decode_content``: the decrypted body does not match its content type's schema."""

    message = "invalid message content"


class AttachmentError(CryptoError):
    """Attachment decryption: wrong key, wrong hash, truncated, reordered or corrupted."""

    message = "cannot decrypt the attachment"


class PatientLinkFormatError(CryptoError):
    """``parse_link_fragment``: the text after ``#/p/`` is not a v1 patient link."""

    message = "invalid patient link"


class PatientDropError(CryptoError):
    """``open_patient_photo`` / ``parse_patient_photo_header``: a drop record does not open."""

    message = "cannot open the patient photo record"


class InclusionProofError(CryptoError):
    """``verify_inclusion``: the proof does not put that leaf in that tree."""

    message = "inclusion proof does not verify"


class ConsistencyProofError(CryptoError):
    """``verify_consistency``: the newer tree does not extend the older one."""

    message = "consistency proof does not verify"


class LogEntryError(CryptoError):
    """``parse_log_entry``: not a well-formed transparency log entry."""

    message = "invalid log entry"


class TreeHeadError(CryptoError):
    """``parse_tree_head``: not a well-formed signed tree head."""

    message = "invalid signed tree head"


class TreeHeadSignatureError(CryptoError):
    """``verify_tree_head``: malformed tree head, wrong log key or bad signature."""

    message = "signed tree head does not verify"


class StatementError(CryptoError):
    """``parse_statement``: not a well-formed signed statement of a known kind."""

    message = "invalid signed statement"


class StatementSignatureError(CryptoError):
    """``verify_statement``: malformed statement, wrong kind, wrong key or bad signature."""

    message = "signed statement does not verify"


class OrganisationKeyStatementError(CryptoError):
    """``verify_organisation_key_statement``: not a valid self-signed organisation key."""

    message = "organisation key statement does not verify"


class InviteStatementError(CryptoError):
    """``verify_invite_statement``: not an invite signed by the organisation key."""

    message = "invite statement does not verify"


class MemberStatementError(CryptoError):
    """``verify_member_statement``: not certified by the organisation key."""

    message = "member statement does not verify"


class RecordsKeyChainError(CryptoError):
    """``verify_records_key_chain``: the chain of records-key statements does not verify."""

    message = "records key chain does not verify"


class InviteLinkFormatError(CryptoError):
    """``parse_invite_fragment``: the text after ``#/invite/`` is not an invite link."""

    message = "invalid invite link"


class OrgKeyWrapHeaderError(CryptoError):
    """``parse_org_key_wrap_header``: not a well-formed organisation key wrap record."""

    message = "invalid organisation key wrap record"


class OrgKeyUnwrapError(CryptoError):
    """``open_org_key_wrap``: anything wrong with an organisation key wrap record."""

    message = "cannot open the organisation key wrap record"


class OrgKeyHandoverError(CryptoError):
    """``open_org_key_handover``: wrong invite secret, wrong organisation or corrupted."""

    message = "cannot open the organisation key handover record"


class AuditCheckpointError(CryptoError):
    """``load_signing_key`` / ``verify_checkpoint``: a stored audit key or checkpoint does
    not parse or does not verify."""

    message = "audit checkpoint does not verify"


class PushSubscriptionKeyError(CryptoError):
    """A Web Push subscription's keys are not a P-256 point and a 16-byte secret."""

    message = "invalid push subscription keys"
