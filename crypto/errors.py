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
    "ContentError",
    "CryptoError",
    "KdfParamsError",
    "MessageHeaderError",
    "MessageOpenError",
    "MessageSignatureError",
    "PatientDropError",
    "PatientLinkFormatError",
    "PrimitiveError",
    "PrivateKeyUnsealError",
    "PublicKeyError",
    "RecordsKeyFileError",
    "RecoveryKeyFormatError",
    "UskKekUnwrapError",
    "UskOrgUnwrapError",
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
    """Base of the three USK unwrap errors."""

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


class RecoveryKeyFormatError(ValueError):
    """The text typed as a recovery key is not one (length, alphabet or checksum)."""


class RecordsKeyFileError(CryptoError):
    """``open_records_key_file``: wrong passphrase or damaged file."""

    message = "cannot open the records key file"


class PublicKeyError(CryptoError):
    """A public key from a peer or the directory is not a valid P-256 point."""

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


class AuditCheckpointError(CryptoError):
    """``load_signing_key`` / ``verify_checkpoint``: a stored audit key or checkpoint does
    not parse or does not verify."""

    message = "audit checkpoint does not verify"
