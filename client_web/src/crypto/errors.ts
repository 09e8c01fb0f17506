/**
 * Error classes of the protocol port, mirroring crypto/errors.py one to one, split by who is at
 * fault (STYLE.md "Errors"):
 *
 * - misuse by our own code (wrong type, wrong key length): `TypeError` / `RangeError`, the
 *   JavaScript counterparts of Python's TypeError / ValueError;
 * - hostile or corrupted input: one opaque `CryptoError` subclass per public operation, whose
 *   fixed message never says which check failed and never carries key material or patient data.
 *
 * `RecoveryKeyFormatError` is the deliberate exception (as in Python): a RangeError about the
 * user's own typing of a recovery key, raised before any key is used, never echoing the input.
 */

export class CryptoError extends Error {
  static readonly defaultMessage: string = "invalid or corrupted record";
  constructor() {
    super((new.target as typeof CryptoError).defaultMessage);
    this.name = new.target.name;
  }
}

function opaque(name: string, message: string, base: typeof CryptoError = CryptoError) {
  const cls = class extends base {
    static override readonly defaultMessage: string = message;
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls;
}

/** A primitive (AEAD, HPKE, ECDH, ECDSA, chunked AEAD) rejected its input. */
export class PrimitiveError extends opaque("PrimitiveError", "primitive rejected its input") {}
/** parseKdfParams: the KDF-parameters record from the server is not acceptable. */
export class KdfParamsError extends opaque("KdfParamsError", "invalid KDF parameters record") {}
/** Base of the three USK unwrap errors. */
export class UskUnwrapError extends opaque("UskUnwrapError", "cannot unwrap the user key") {}
export class UskKekUnwrapError extends opaque(
  "UskKekUnwrapError",
  "cannot unwrap the user key with this password",
  UskUnwrapError,
) {}
export class UskRecoveryUnwrapError extends opaque(
  "UskRecoveryUnwrapError",
  "cannot unwrap the user key with this recovery key",
  UskUnwrapError,
) {}
export class UskOrgUnwrapError extends opaque(
  "UskOrgUnwrapError",
  "cannot unwrap the user key with the organisation key",
  UskUnwrapError,
) {}
/** unwrapUskWithPasskey: another passkey's PRF output, credential or user, or a bad record. */
export class UskPasskeyUnwrapError extends opaque(
  "UskPasskeyUnwrapError",
  "cannot unwrap the user key with this passkey",
  UskUnwrapError,
) {}
/** openRecordsKeyFile: wrong passphrase or damaged file. */
export class RecordsKeyFileError extends opaque(
  "RecordsKeyFileError",
  "cannot open the records key file",
) {}
/** A public key from a peer or the directory is not a valid P-256 point. */
export class PublicKeyError extends opaque("PublicKeyError", "invalid public key") {}
export class PrivateKeyUnsealError extends opaque(
  "PrivateKeyUnsealError",
  "cannot unseal the private key",
) {}
export class CaseKeyWrapHeaderError extends opaque(
  "CaseKeyWrapHeaderError",
  "invalid case key wrap record",
) {}
export class CaseKeyWrapSignatureError extends opaque(
  "CaseKeyWrapSignatureError",
  "case key wrap record does not verify",
) {}
export class CaseKeyUnwrapError extends opaque(
  "CaseKeyUnwrapError",
  "cannot open the case key wrap record",
) {}
export class MessageHeaderError extends opaque("MessageHeaderError", "invalid message envelope") {}
export class MessageOpenError extends opaque("MessageOpenError", "cannot open the message") {}
/** verifyMessageSignature: malformed envelope or bad signature. */
export class MessageSignatureError extends opaque(
  "MessageSignatureError",
  "message signature does not verify",
) {}
export class ContentError extends opaque("ContentError", "invalid message content") {}
export class AttachmentError extends opaque("AttachmentError", "cannot decrypt the attachment") {}
/** parseLinkFragment: the text after "#/p/" is not a v1 patient link. */
export class PatientLinkFormatError extends opaque("PatientLinkFormatError", "invalid patient link") {}
/** openPatientPhoto / parsePatientPhotoHeader: a drop record does not open. */
export class PatientDropError extends opaque(
  "PatientDropError",
  "cannot open the patient photo record",
) {}

/** verifyInclusion: the proof does not put that leaf in that tree. */
export class InclusionProofError extends opaque("InclusionProofError", "inclusion proof does not verify") {}
/** verifyConsistency: the newer tree does not extend the older one. */
export class ConsistencyProofError extends opaque(
  "ConsistencyProofError",
  "consistency proof does not verify",
) {}
/** parseLogEntry: not a well-formed transparency log entry. */
export class LogEntryError extends opaque("LogEntryError", "invalid log entry") {}
/** parseTreeHead: not a well-formed signed tree head. */
export class TreeHeadError extends opaque("TreeHeadError", "invalid signed tree head") {}
/** verifyTreeHead: malformed tree head, wrong log key or bad signature. */
export class TreeHeadSignatureError extends opaque(
  "TreeHeadSignatureError",
  "signed tree head does not verify",
) {}
/** parseStatement: not a well-formed signed statement of a known kind. */
export class StatementError extends opaque("StatementError", "invalid signed statement") {}
/** verifyStatement: malformed statement, wrong kind, wrong key or bad signature. */
export class StatementSignatureError extends opaque(
  "StatementSignatureError",
  "signed statement does not verify",
) {}
/** verifyOrganisationKeyStatement: not a valid self-signed organisation key. */
export class OrganisationKeyStatementError extends opaque(
  "OrganisationKeyStatementError",
  "organisation key statement does not verify",
) {}
/** verifyInviteStatement: not an invite signed by the organisation key. */
export class InviteStatementError extends opaque("InviteStatementError", "invite statement does not verify") {}
/** verifyMemberStatement: not certified by the organisation key. */
export class MemberStatementError extends opaque("MemberStatementError", "member statement does not verify") {}
/** verifyRecordsKeyChain: the chain of records-key statements does not verify. */
export class RecordsKeyChainError extends opaque("RecordsKeyChainError", "records key chain does not verify") {}
/** parseInviteFragment: the text after "#/invite/" is not an invite link. */
export class InviteLinkFormatError extends opaque("InviteLinkFormatError", "invalid invite link") {}
/** parseOrgKeyWrapHeader: not a well-formed organisation key wrap record. */
export class OrgKeyWrapHeaderError extends opaque(
  "OrgKeyWrapHeaderError",
  "invalid organisation key wrap record",
) {}
/** openOrgKeyWrap: anything wrong with an organisation key wrap record. */
export class OrgKeyUnwrapError extends opaque(
  "OrgKeyUnwrapError",
  "cannot open the organisation key wrap record",
) {}
/** openOrgKeyHandover: wrong invite secret, wrong organisation or corrupted. */
export class OrgKeyHandoverError extends opaque(
  "OrgKeyHandoverError",
  "cannot open the organisation key handover record",
) {}

/** The text typed as a recovery key is not one (length, alphabet or checksum). */
export class RecoveryKeyFormatError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "RecoveryKeyFormatError";
  }
}
