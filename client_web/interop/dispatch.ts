/**
 * Interop dispatcher: every protocol operation of the browser port behind one JSON-in /
 * JSON-out function, so the Python side can drive the TypeScript implementation (through
 * `node dist-node/interop.mjs`, in Node or in headless Chromium: interop/cli.ts and
 * client_web/README.md "Cross-language proof") and prove both directions:
 * records the browser port writes are opened by crypto/, and the reverse.
 *
 * Conventions follow tests/vectors/dermline/README.md: byte strings are lower-case hex,
 * identifiers are UUID strings, snake_case field names as in the vector files. Production code
 * paths are used (WebCrypto ECDSA with random k, fresh nonces and ephemeral keys) unless a
 * field injects the randomness (`nonce`, `ikm_e`, `salt`). Failures return
 * {"error": "<ErrorClassName>"} and never any partial output.
 */
import {
  KeyPurpose,
  accountFingerprint,
  decodeContent,
  decodeRecoveryKey,
  decryptAttachment,
  deriveLoginKeys,
  encodeContent,
  encodeRecoveryKey,
  encryptAttachment,
  encryptAttachmentFromParts,
  fromHex,
  generateKeyPair,
  keyId,
  keyPairFromPrivate,
  messageHash,
  openCaseKeyWrap,
  openMessage,
  parseCaseKeyWrapHeader,
  parseKdfParams,
  parseMessageHeader,
  safetyNumber,
  sealMessage,
  sealMessageFromParts,
  sealLegacyMessageFromParts,
  sealPrivateKey,
  signingIdentity,
  toAccountKey,
  toHex,
  unsealPrivateKey,
  unwrapUskForOrg,
  unwrapUskWithKek,
  unwrapUskWithPasskey,
  unwrapUskWithRecoveryKey,
  wrapCaseKey,
  wrapCaseKeyFromParts,
  wrapUskForOrg,
  wrapUskWithKek,
  wrapUskWithPasskey,
  wrapUskWithRecoveryKey,
  openRecordsKeyFile,
  sealRecordsKeyFile,
  verifyMessageSignature,
  type Body,
  type ContentType,
  type LogEntry,
  type Role,
  type Statement,
  type StatementKind,
  type TreeHead,
  deriveInviteKey,
  deriveRecordsSigningKey,
  checkTranscript,
  entryFromRecord,
  openOrgKeyHandover,
  openOrgKeyWrap,
  parseOrgKeyWrapHeader,
  sealOrgKeyHandover,
  wrapOrgKey,
  formatInviteFragment,
  inviteTokenHash,
  leafHash,
  makeApprovalStatement,
  makeInviteStatement,
  makeMemberStatement,
  makeOrganisationKeyStatement,
  makeRecordsKeyStatement,
  parseInviteFragment,
  parseLogEntry,
  parseStatement,
  parseTreeHead,
  rootHash,
  statementHash,
  verifyConsistency,
  verifyEntryIncluded,
  verifyInclusion,
  verifyInviteStatement,
  verifyMemberStatement,
  verifyOrganisationKeyStatement,
  verifyRecordsKeyChain,
  verifyStatement,
  verifyTreeHead,
  verifyTreeHeadExtends,
  hybridAccountFingerprint,
  hybridKeyPairFromSeed,
  openHybridCaseKeyWrap,
  openPatientPhotoHybrid,
  sealPatientPhotoHybrid,
  unwrapUskForOrgHybrid,
  wrapCaseKeyHybrid,
  wrapUskForOrgHybrid,
  type PatientPhoto,
} from "../src/crypto/index";
import { setXWingPath, xwingPath, type XWingPath } from "../src/crypto/primitives/xwing";
import { chunkedDecrypt, chunkedEncrypt } from "../src/crypto/primitives/chunked";
import { p256Sign, p256Verify } from "../src/crypto/primitives/ecc";
import { hpkeOpenBase, hpkeRecipientFromScalar, hpkeSealBase } from "../src/crypto/primitives/hpke";

type Args = Record<string, unknown>;
type Result = Record<string, unknown>;

const b = (a: Args, k: string): Uint8Array => {
  const v = a[k];
  if (typeof v !== "string") throw new TypeError(`field ${k} must be a hex string`);
  return fromHex(v);
};
const str = (a: Args, k: string): string => {
  const v = a[k];
  if (typeof v !== "string") throw new TypeError(`field ${k} must be a string`);
  return v;
};
const num = (a: Args, k: string): number => {
  const v = a[k];
  if (typeof v !== "number") throw new TypeError(`field ${k} must be a number`);
  return v;
};

const hexList = (a: Args, k: string): Uint8Array[] => {
  const v = a[k];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new TypeError(`field ${k} must be a list of hex strings`);
  }
  return v.map((x: string) => fromHex(x));
};
/** An optional hex field: absent or null gives null. */
const optHex = (a: Args, k: string): Uint8Array | null => (a[k] === undefined || a[k] === null ? null : b(a, k));

async function signer(privateKeyHex: Uint8Array) {
  const pair = await keyPairFromPrivate(privateKeyHex);
  return { ...signingIdentity(await toAccountKey(pair, KeyPurpose.SIGNING)), publicKey: pair.publicKey };
}

/** A parsed statement in the snake_case shape of the vector files. */
function statementFields(s: Statement): Result {
  const common: Result = {
    kind: s.kind,
    signer_key_id: toHex(s.signerKeyId),
    issued_at_ms: s.issuedAtMs,
    hash: toHex(s.hash),
  };
  switch (s.kind) {
    case 1:
      return { ...common, org_id: s.orgId, org_kind: s.orgKind, org_public_key: toHex(s.orgPublicKey), name: s.name };
    case 2:
      return {
        ...common,
        org_id: s.orgId,
        role: s.role,
        invite_public_key: toHex(s.invitePublicKey),
        expires_at_ms: s.expiresAtMs,
        token_hash: toHex(s.tokenHash),
      };
    case 3:
      return {
        ...common,
        user_id: s.userId,
        org_id: s.orgId,
        role: s.role,
        signing_public_key: toHex(s.signingPublicKey),
        encryption_public_key: toHex(s.encryptionPublicKey),
        invite_statement_hash: s.inviteStatementHash === null ? null : toHex(s.inviteStatementHash),
      };
    case 4:
      return {
        ...common,
        org_id: s.orgId,
        sequence: s.sequence,
        records_public_key: toHex(s.recordsPublicKey),
        records_signing_public_key: toHex(s.recordsSigningPublicKey),
        previous_records_key_id: s.previousRecordsKeyId === null ? null : toHex(s.previousRecordsKeyId),
      };
    case 5:
      return { ...common, approved_statement_hash: toHex(s.approvedStatementHash), approver_user_id: s.approverUserId };
  }
}

function logEntryFields(e: LogEntry): Result {
  const common: Result = { entry_type: e.entryType, appended_at_ms: e.appendedAtMs };
  switch (e.entryType) {
    case 1:
      return { ...common, statement: toHex(e.statement.record) };
    case 2:
      return {
        ...common,
        user_id: e.userId,
        org_id: e.orgId,
        role: e.role,
        signing_public_key: toHex(e.signingPublicKey),
        encryption_public_key: toHex(e.encryptionPublicKey),
      };
    case 3:
      return { ...common, user_id: e.userId, org_id: e.orgId, reason: e.reason, role: e.role ?? 0 };
  }
}

function treeHeadFields(h: TreeHead): Result {
  return {
    tree_size: h.treeSize,
    timestamp_ms: h.timestampMs,
    root_hash: toHex(h.rootHash),
    log_key_id: toHex(h.logKeyId),
  };
}

function keyPairFields(p: { privateKey: Uint8Array; publicKey: Uint8Array; keyId: Uint8Array }): Result {
  return { private_key: toHex(p.privateKey), public_key: toHex(p.publicKey), key_id: toHex(p.keyId) };
}

const ops: Record<string, (a: Args) => Promise<Result>> = {
  async derive_login_keys(a) {
    const k = await deriveLoginKeys(str(a, "password"), b(a, "salt"), num(a, "iterations"));
    return { auth_key: toHex(k.authKey), kek: toHex(k.kek) };
  },
  async parse_kdf_params(a) {
    const p = parseKdfParams(b(a, "record"));
    return { algorithm: p.algorithm, iterations: p.iterations, salt: toHex(p.salt) };
  },
  async encode_recovery_key(a) {
    return { text: await encodeRecoveryKey(b(a, "secret")) };
  },
  async decode_recovery_key(a) {
    return { secret: toHex(await decodeRecoveryKey(str(a, "text"))) };
  },
  async wrap_usk_with_kek(a) {
    return { record: toHex(await wrapUskWithKek(b(a, "usk"), b(a, "kek"), str(a, "user_id"))) };
  },
  async unwrap_usk_with_kek(a) {
    return { usk: toHex(await unwrapUskWithKek(b(a, "record"), b(a, "kek"), str(a, "user_id"))) };
  },
  async wrap_usk_with_passkey(a) {
    return {
      record: toHex(await wrapUskWithPasskey(b(a, "usk"), b(a, "prf_output"), str(a, "user_id"), b(a, "credential_id"))),
    };
  },
  async unwrap_usk_with_passkey(a) {
    return {
      usk: toHex(await unwrapUskWithPasskey(b(a, "record"), b(a, "prf_output"), str(a, "user_id"), b(a, "credential_id"))),
    };
  },
  async wrap_usk_with_recovery_key(a) {
    return {
      record: toHex(await wrapUskWithRecoveryKey(b(a, "usk"), b(a, "recovery_secret"), str(a, "user_id"))),
    };
  },
  async unwrap_usk_with_recovery_key(a) {
    return {
      usk: toHex(await unwrapUskWithRecoveryKey(b(a, "record"), b(a, "recovery_secret"), str(a, "user_id"))),
    };
  },
  async wrap_usk_for_org(a) {
    return { record: toHex(await wrapUskForOrg(b(a, "usk"), b(a, "org_public_key"), str(a, "user_id"))) };
  },
  async unwrap_usk_for_org(a) {
    return { usk: toHex(await unwrapUskForOrg(b(a, "record"), b(a, "org_private_key"), str(a, "user_id"))) };
  },
  async generate_key_pair() {
    const p = await generateKeyPair();
    return { private_key: toHex(p.privateKey), public_key: toHex(p.publicKey), key_id: toHex(p.keyId) };
  },
  async seal_private_key(a) {
    const pair = await keyPairFromPrivate(b(a, "private_key"));
    const rec = await sealPrivateKey(pair, num(a, "purpose") as KeyPurpose, b(a, "usk"), str(a, "user_id"));
    return { record: toHex(rec), key_id: toHex(pair.keyId) };
  },
  async unseal_private_key(a) {
    const p = await unsealPrivateKey(b(a, "record"), num(a, "purpose") as KeyPurpose, b(a, "usk"), str(a, "user_id"));
    return { private_key: toHex(p.privateKey), public_key: toHex(p.publicKey), key_id: toHex(p.keyId) };
  },
  async key_id(a) {
    return { key_id: toHex(await keyId(b(a, "public_key"))) };
  },
  async account_fingerprint(a) {
    return { fingerprint: await accountFingerprint(b(a, "signing_public_key"), b(a, "encryption_public_key")) };
  },
  async safety_number(a) {
    return {
      safety_number: await safetyNumber(
        [b(a, "ours_signing_public_key"), b(a, "ours_encryption_public_key")],
        [b(a, "theirs_signing_public_key"), b(a, "theirs_encryption_public_key")],
      ),
    };
  },
  async wrap_case_key(a) {
    const params = {
      caseId: str(a, "case_id"),
      epoch: num(a, "epoch"),
      recipientPublicKey: b(a, "recipient_public_key"),
      wrapperUserId: str(a, "wrapper_user_id"),
      wrapper: await signer(b(a, "wrapper_signing_private_key")),
    };
    const rec =
      a.ikm_e === undefined
        ? await wrapCaseKey(b(a, "case_key"), params)
        : await wrapCaseKeyFromParts(b(a, "case_key"), { ...params, ikmE: b(a, "ikm_e") });
    return { record: toHex(rec) };
  },
  async parse_case_key_wrap_header(a) {
    const h = parseCaseKeyWrapHeader(b(a, "record"));
    return {
      case_id: h.caseId,
      epoch: h.epoch,
      recipient_key_id: toHex(h.recipientKeyId),
      wrapper_user_id: h.wrapperUserId,
      wrapper_key_id: toHex(h.wrapperKeyId),
    };
  },
  async open_case_key_wrap(a) {
    const r = await hpkeRecipientFromScalar(b(a, "recipient_private_key"));
    const ck = await openCaseKeyWrap(b(a, "record"), {
      caseId: str(a, "case_id"),
      epoch: num(a, "epoch"),
      recipient: { ...r, keyId: await keyId(r.publicKey) },
      wrapperSigningPublicKey: b(a, "wrapper_signing_public_key"),
    });
    return { case_key: toHex(ck) };
  },
  async seal_message(a) {
    const p = {
      caseKey: b(a, "case_key"),
      caseId: str(a, "case_id"),
      epoch: num(a, "epoch"),
      clientMessageId: str(a, "client_message_id"),
      senderUserId: str(a, "sender_user_id"),
      sender: await signer(b(a, "sender_signing_private_key")),
      contentType: num(a, "content_type") as ContentType,
      previousHash: b(a, "previous_hash"),
    };
    // `legacy: true` makes the old type 0x07 (tests that old records still open).
    const fromParts = a.legacy === true ? sealLegacyMessageFromParts : sealMessageFromParts;
    const rec =
      a.nonce === undefined && a.legacy !== true
        ? await sealMessage(b(a, "body"), p)
        : await fromParts(b(a, "body"), {
            ...p,
            nonce: a.nonce === undefined ? crypto.getRandomValues(new Uint8Array(12)) : b(a, "nonce"),
            timestampMs: BigInt(a.timestamp_ms === undefined ? Date.now() : num(a, "timestamp_ms")),
          });
    return { record: toHex(rec), message_hash: toHex(await messageHash(rec)) };
  },
  async parse_message_header(a) {
    const h = parseMessageHeader(b(a, "record"));
    return {
      case_id: h.caseId,
      epoch: h.epoch,
      client_message_id: h.clientMessageId,
      sender_user_id: h.senderUserId,
      sender_key_id: toHex(h.senderKeyId),
      content_type: h.contentType,
      timestamp_ms: Number(h.timestampMs),
      previous_hash: toHex(h.previousHash),
      commitment: h.commitment === null ? null : toHex(h.commitment),
    };
  },
  async open_message(a) {
    const m = await openMessage(b(a, "record"), {
      caseKey: b(a, "case_key"),
      caseId: str(a, "case_id"),
      epoch: num(a, "epoch"),
      senderSigningPublicKey: b(a, "sender_signing_public_key"),
      ...(a.sender_user_id === undefined ? {} : { senderUserId: str(a, "sender_user_id") }),
    });
    return {
      body: toHex(m.body),
      content_type: m.header.contentType,
      client_message_id: m.header.clientMessageId,
      commitment: m.header.commitment === null ? null : toHex(m.header.commitment),
    };
  },
  async verify_message_signature(a) {
    const h = await verifyMessageSignature(b(a, "record"), b(a, "sender_signing_public_key"));
    return { client_message_id: h.clientMessageId, sender_user_id: h.senderUserId };
  },
  async seal_records_key_file(a) {
    const pair = await keyPairFromPrivate(b(a, "private_key"));
    const iterations = a.iterations === undefined ? 600_000 : num(a, "iterations");
    return { record: toHex(await sealRecordsKeyFile(pair, str(a, "passphrase"), iterations)) };
  },
  async open_records_key_file(a) {
    const p = await openRecordsKeyFile(b(a, "record"), str(a, "passphrase"));
    return { private_key: toHex(p.privateKey), public_key: toHex(p.publicKey), key_id: toHex(p.keyId) };
  },
  async encode_content(a) {
    return { body: toHex(encodeContent(num(a, "content_type") as ContentType, a.decoded as Body)) };
  },
  async decode_content(a) {
    return { decoded: decodeContent(num(a, "content_type") as ContentType, b(a, "body")) };
  },
  async encrypt_attachment(a) {
    const r =
      a.salt === undefined
        ? await encryptAttachment(b(a, "file_key"), b(a, "plaintext"))
        : await encryptAttachmentFromParts(b(a, "file_key"), b(a, "plaintext"), b(a, "salt"));
    return { record: toHex(r.record), sha256: toHex(r.sha256), size: r.record.length };
  },
  async decrypt_attachment(a) {
    return {
      plaintext: toHex(await decryptAttachment(b(a, "file_key"), b(a, "record"), b(a, "expected_sha256"))),
    };
  },
  async hpke_seal(a) {
    const r = await hpkeSealBase(b(a, "pk_r"), b(a, "info"), b(a, "aad"), b(a, "plaintext"));
    return { enc: toHex(r.enc), ct: toHex(r.ct) };
  },
  async hpke_open(a) {
    const r = await hpkeRecipientFromScalar(b(a, "sk_r"));
    return { plaintext: toHex(await hpkeOpenBase(r, b(a, "enc"), b(a, "info"), b(a, "aad"), b(a, "ct"))) };
  },
  async ecdsa_sign(a) {
    return { signature: toHex(await p256Sign(b(a, "sk"), b(a, "message"))) };
  },
  async ecdsa_verify(a) {
    await p256Verify(b(a, "pk"), b(a, "message"), b(a, "signature"));
    return { valid: true };
  },
  async chunked_encrypt(a) {
    return { ciphertext: toHex(await chunkedEncrypt(b(a, "key"), b(a, "context"), b(a, "plaintext"))) };
  },
  async chunked_decrypt(a) {
    return { plaintext: toHex(await chunkedDecrypt(b(a, "key"), b(a, "context"), b(a, "ciphertext"))) };
  },
  // --- transparency log (docs/protocol.md section 18) ---
  async merkle_leaf_hash(a) {
    return { leaf_hash: toHex(await leafHash(b(a, "entry"))) };
  },
  async merkle_root(a) {
    return { root: toHex(await rootHash(hexList(a, "leaf_hashes"))) };
  },
  async verify_inclusion(a) {
    await verifyInclusion({
      leafHash: b(a, "leaf_hash"),
      index: num(a, "index"),
      treeSize: num(a, "tree_size"),
      proof: hexList(a, "proof"),
      root: b(a, "root"),
    });
    return { valid: true };
  },
  async verify_consistency(a) {
    await verifyConsistency({
      oldSize: num(a, "old_size"),
      newSize: num(a, "new_size"),
      oldRoot: b(a, "old_root"),
      newRoot: b(a, "new_root"),
      proof: hexList(a, "proof"),
    });
    return { valid: true };
  },
  async parse_tree_head(a) {
    return treeHeadFields(parseTreeHead(b(a, "record")));
  },
  async verify_tree_head(a) {
    return treeHeadFields(await verifyTreeHead(b(a, "record"), b(a, "log_public_key")));
  },
  async verify_tree_head_extends(a) {
    await verifyTreeHeadExtends(parseTreeHead(b(a, "old_head")), parseTreeHead(b(a, "new_head")), hexList(a, "proof"));
    return { valid: true };
  },
  async verify_entry_included(a) {
    await verifyEntryIncluded(b(a, "entry"), {
      index: num(a, "index"),
      treeHead: parseTreeHead(b(a, "tree_head")),
      proof: hexList(a, "proof"),
    });
    return { valid: true };
  },
  async parse_log_entry(a) {
    return logEntryFields(await parseLogEntry(b(a, "entry")));
  },
  // --- signed statements (section 19) ---
  async parse_statement(a) {
    return statementFields(await parseStatement(b(a, "record")));
  },
  async statement_hash(a) {
    return { hash: toHex(await statementHash(b(a, "record"))) };
  },
  async verify_statement(a) {
    const kind = a.kind === undefined ? null : (num(a, "kind") as StatementKind);
    return statementFields(await verifyStatement(b(a, "record"), b(a, "signer_public_key"), kind));
  },
  async verify_organisation_key_statement(a) {
    return statementFields(await verifyOrganisationKeyStatement(b(a, "record"), { orgId: str(a, "org_id") }));
  },
  async verify_invite_statement(a) {
    return statementFields(
      await verifyInviteStatement(b(a, "record"), { orgId: str(a, "org_id"), orgPublicKey: b(a, "org_public_key") }),
    );
  },
  async verify_member_statement(a) {
    return statementFields(
      await verifyMemberStatement(b(a, "record"), {
        orgId: str(a, "org_id"),
        orgPublicKey: b(a, "org_public_key"),
        inviteStatement: optHex(a, "invite_statement"),
      }),
    );
  },
  async verify_records_key_chain(a) {
    const changes = (a.changes as Args[]).map((c) => ({ statement: b(c, "statement"), approvals: hexList(c, "approvals") }));
    const admins = ((a.admins ?? []) as Args[]).map((m) => ({
      statement: b(m, "statement"),
      inviteStatement: optHex(m, "invite_statement"),
    }));
    const pin = a.pin === undefined || a.pin === null ? null : (a.pin as Args);
    return statementFields(
      await verifyRecordsKeyChain(changes, {
        orgId: str(a, "org_id"),
        orgPublicKey: b(a, "org_public_key"),
        admins,
        pin: pin === null ? null : { sequence: num(pin, "sequence"), recordsPublicKey: b(pin, "records_public_key") },
      }),
    );
  },
  async make_organisation_key_statement(a) {
    const record = await makeOrganisationKeyStatement({
      orgId: str(a, "org_id"),
      orgKind: num(a, "org_kind") as 1 | 2,
      name: str(a, "name"),
      orgKey: await signer(b(a, "org_private_key")),
      issuedAtMs: num(a, "issued_at_ms"),
    });
    return { record: toHex(record) };
  },
  async make_invite_statement(a) {
    const record = await makeInviteStatement({
      orgId: str(a, "org_id"),
      role: num(a, "role") as Role,
      invitePublicKey: b(a, "invite_public_key"),
      expiresAtMs: num(a, "expires_at_ms"),
      tokenHash: b(a, "token_hash"),
      orgKey: await signer(b(a, "org_private_key")),
      issuedAtMs: num(a, "issued_at_ms"),
    });
    return { record: toHex(record) };
  },
  async make_member_statement(a) {
    const record = await makeMemberStatement({
      userId: str(a, "user_id"),
      orgId: str(a, "org_id"),
      role: num(a, "role") as Role,
      signingPublicKey: b(a, "signing_public_key"),
      encryptionPublicKey: b(a, "encryption_public_key"),
      inviteStatementHash: optHex(a, "invite_statement_hash"),
      signer: await signer(b(a, "signer_private_key")),
      issuedAtMs: num(a, "issued_at_ms"),
    });
    return { record: toHex(record) };
  },
  async make_records_key_statement(a) {
    const record = await makeRecordsKeyStatement({
      orgId: str(a, "org_id"),
      sequence: num(a, "sequence"),
      recordsPublicKey: b(a, "records_public_key"),
      recordsSigningPublicKey: b(a, "records_signing_public_key"),
      previousRecordsKeyId: optHex(a, "previous_records_key_id"),
      signer: await signer(b(a, "signer_private_key")),
      issuedAtMs: num(a, "issued_at_ms"),
    });
    return { record: toHex(record) };
  },
  async make_approval_statement(a) {
    const record = await makeApprovalStatement({
      approvedStatementHash: b(a, "approved_statement_hash"),
      approverUserId: str(a, "approver_user_id"),
      approverSigningKey: await signer(b(a, "approver_signing_private_key")),
      issuedAtMs: num(a, "issued_at_ms"),
    });
    return { record: toHex(record) };
  },
  // --- invites and the records signing key (section 20) ---
  async invite_token_hash(a) {
    return { token_hash: toHex(await inviteTokenHash(str(a, "token"))) };
  },
  async derive_invite_key(a) {
    return keyPairFields(await deriveInviteKey(b(a, "secret")));
  },
  async format_invite_fragment(a) {
    return { text: formatInviteFragment(str(a, "token"), optHex(a, "secret"), optHex(a, "org_key_id")) };
  },
  async parse_invite_fragment(a) {
    const link = parseInviteFragment(str(a, "text"));
    return {
      token: link.token,
      secret: link.secret === null ? null : toHex(link.secret),
      org_key_id: link.orgKeyId === null ? null : toHex(link.orgKeyId),
      certified: link.certified,
    };
  },
  async derive_records_signing_key(a) {
    return keyPairFields(await deriveRecordsSigningKey(b(a, "records_private_key")));
  },
  // --- transcripts (section 23) ---
  async check_transcript(a) {
    // Either `records` (envelopes in the server's order, seq from 1) or `messages`
    // ({seq, client_message_id, previous_hash, message_hash}).
    const entries =
      a.records !== undefined
        ? await Promise.all(hexList(a, "records").map((r, i) => entryFromRecord(i + 1, r)))
        : (a.messages as Args[]).map((m) => ({
            seq: num(m, "seq"),
            clientMessageId: str(m, "client_message_id"),
            previousHash: b(m, "previous_hash"),
            messageHash: b(m, "message_hash"),
          }));
    return { findings: checkTranscript(entries) };
  },
  // --- the organisation key's custody (section 21) ---
  async wrap_org_key(a) {
    const record = await wrapOrgKey(await keyPairFromPrivate(b(a, "org_private_key")), {
      orgId: str(a, "org_id"),
      recipientPublicKey: b(a, "recipient_public_key"),
      wrapperUserId: str(a, "wrapper_user_id"),
      wrapperSigningKey: await signer(b(a, "wrapper_signing_private_key")),
    });
    return { record: toHex(record) };
  },
  async parse_org_key_wrap_header(a) {
    const h = parseOrgKeyWrapHeader(b(a, "record"));
    return {
      org_id: h.orgId,
      recipient_key_id: toHex(h.recipientKeyId),
      wrapper_user_id: h.wrapperUserId,
      wrapper_key_id: toHex(h.wrapperKeyId),
      org_key_id: toHex(h.orgKeyId),
    };
  },
  async open_org_key_wrap(a) {
    const r = await hpkeRecipientFromScalar(b(a, "recipient_private_key"));
    const pair = await openOrgKeyWrap(b(a, "record"), {
      orgId: str(a, "org_id"),
      orgKeyId: b(a, "org_key_id"),
      recipient: { ...r, keyId: await keyId(r.publicKey) },
      wrapperSigningPublicKey: b(a, "wrapper_signing_public_key"),
      ...(a.wrapper_user_id === undefined ? {} : { wrapperUserId: str(a, "wrapper_user_id") }),
    });
    return keyPairFields(pair);
  },
  // Suite 2 (docs/protocol.md section 26). `xwing_path` ("webcrypto" | "library") forces the
  // X-Wing path for the following requests; "auto" returns to detection. Each answer names
  // the path that ran.
  async xwing_path(a) {
    const want = a.path === undefined ? "auto" : str(a, "path");
    setXWingPath(want === "auto" ? undefined : (want as XWingPath));
    return { path: await xwingPath() };
  },
  async hybrid_key_pair(a) {
    const pair = await hybridKeyPairFromSeed(b(a, "seed"));
    return { public_key: toHex(pair.publicKey), key_id: toHex(pair.keyId) };
  },
  async hybrid_fingerprint(a) {
    const fp = await hybridAccountFingerprint(
      b(a, "signing_public_key"),
      b(a, "encryption_public_key"),
      b(a, "hybrid_public_key"),
    );
    return { fingerprint: fp };
  },
  async wrap_case_key_hybrid(a) {
    const rec = await wrapCaseKeyHybrid(
      b(a, "case_key"),
      {
        caseId: str(a, "case_id"),
        epoch: num(a, "epoch"),
        recipientPublicKey: b(a, "recipient_public_key"),
        wrapperUserId: str(a, "wrapper_user_id"),
        wrapper: await signer(b(a, "wrapper_signing_private_key")),
      },
      optHex(a, "eseed") ?? undefined,
    );
    return { record: toHex(rec), path: await xwingPath() };
  },
  async open_hybrid_case_key_wrap(a) {
    const ck = await openHybridCaseKeyWrap(b(a, "record"), {
      caseId: str(a, "case_id"),
      epoch: num(a, "epoch"),
      recipient: await hybridKeyPairFromSeed(b(a, "recipient_seed")),
      wrapperSigningPublicKey: b(a, "wrapper_signing_public_key"),
      wrapperUserId: str(a, "wrapper_user_id"),
    });
    return { case_key: toHex(ck), path: await xwingPath() };
  },
  async wrap_usk_for_org_hybrid(a) {
    const rec = await wrapUskForOrgHybrid(b(a, "usk"), b(a, "org_public_key"), str(a, "user_id"));
    return { record: toHex(rec), path: await xwingPath() };
  },
  async unwrap_usk_for_org_hybrid(a) {
    const org = await hybridKeyPairFromSeed(b(a, "org_seed"));
    const usk = await unwrapUskForOrgHybrid(b(a, "record"), org, str(a, "user_id"));
    return { usk: toHex(usk), path: await xwingPath() };
  },
  async seal_patient_photo_hybrid(a) {
    const photo: PatientPhoto = {
      attachmentId: str(a, "attachment_id"),
      fileKey: b(a, "file_key"),
      ciphertextSha256: b(a, "ciphertext_sha256"),
      ciphertextSize: num(a, "ciphertext_size"),
      mediaType: str(a, "media_type"),
      tag: str(a, "tag") as PatientPhoto["tag"],
      bodySite: str(a, "body_site"),
    };
    const rec = await sealPatientPhotoHybrid(photo, {
      linkId: str(a, "link_id"),
      index: num(a, "index"),
      dropBoxPublicKey: b(a, "drop_box_public_key"),
    });
    return { record: toHex(rec), path: await xwingPath() };
  },
  async open_patient_photo_hybrid(a) {
    const { index, photo } = await openPatientPhotoHybrid(b(a, "record"), {
      linkId: str(a, "link_id"),
      dropBox: await hybridKeyPairFromSeed(b(a, "drop_box_seed")),
    });
    return {
      index,
      attachment_id: photo.attachmentId,
      file_key: toHex(photo.fileKey),
      ciphertext_sha256: toHex(photo.ciphertextSha256),
      ciphertext_size: photo.ciphertextSize,
      media_type: photo.mediaType,
      tag: photo.tag,
      body_site: photo.bodySite,
      path: await xwingPath(),
    };
  },
  async seal_org_key_handover(a) {
    const record = await sealOrgKeyHandover(await keyPairFromPrivate(b(a, "org_private_key")), {
      orgId: str(a, "org_id"),
      inviteSecret: b(a, "invite_secret"),
    });
    return { record: toHex(record) };
  },
  async open_org_key_handover(a) {
    const pair = await openOrgKeyHandover(b(a, "record"), {
      orgId: str(a, "org_id"),
      inviteSecret: b(a, "invite_secret"),
      orgKeyId: b(a, "org_key_id"),
    });
    return keyPairFields(pair);
  },
};

export const OPERATIONS = Object.keys(ops).sort();

export interface Request {
  op: string;
  args?: Args;
}

/** Run one request; never throws: {"ok": {...}} or {"error": "ClassName"}. */
export async function dispatch(req: Request): Promise<{ ok: Result } | { error: string }> {
  const f = typeof req?.op === "string" && Object.hasOwn(ops, req.op) ? ops[req.op] : undefined;
  if (f === undefined) return { error: "UnknownOperation" };
  try {
    return { ok: await f(req.args ?? {}) };
  } catch (e) {
    return { error: e instanceof Error ? e.name : "Error" };
  }
}
