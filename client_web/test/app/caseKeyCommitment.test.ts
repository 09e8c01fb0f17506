/**
 * The key commitment in the app layer (docs/protocol.md section 8): a new case's wraps are all
 * committed (0x0b) to the one case key; the reader's open path refuses a case key that the
 * commitment of its wrap does not name, even one kept from earlier (CaseView caches it).
 */
import { describe, expect, it } from "vitest";
import type { CaseDetail, Participant, Person, ThreadMessage } from "../../src/app/api";
import { buildNewCase, checkCaseKeyCommitment, openMessages, openMyCaseKey, openOutcome } from "../../src/app/cases";
import { caseKeyCommitment, generateCaseKey, generateKeyPair, parseCaseKeyWrapHeader } from "../../src/crypto/index";
import { toHex } from "../../src/crypto/bytes";
import { history, user } from "../helpers/people";

describe("case key commitment in the app layer", () => {
  it("wraps share one commitment; a key it does not name is refused before decrypting", async () => {
    const gp = await user();
    const derm = await user();
    const records = await generateKeyPair();
    const dermPerson: Person = {
      userId: derm.keys.userId,
      displayName: "Dr Derm",
      roles: [{ orgId: "svc", role: "dermatologist" }],
      encryptionPublicKey: derm.enc.publicKey,
      signingPublicKey: derm.sig.publicKey,
    };
    const made = await buildNewCase(gp.keys, {
      practiceId: "practice-1",
      recordsPublicKey: records.publicKey,
      serviceId: "svc",
      dermatologists: [dermPerson],
      priority: "routine",
      history,
    });
    const headers = made.request.caseKeys.map((k) => parseCaseKeyWrapHeader(k.wrappedKey));
    expect(made.request.caseKeys.map((k) => toHex(k.wrappedKey.subarray(0, 3)))).toEqual(["01010b", "01010b", "01010b"]);
    expect(new Set(headers.map((h) => toHex(h.commitment!))).size).toBe(1);

    const participants: Participant[] = [
      { userId: gp.keys.userId, role: "gp", displayName: "Dr GP", encryptionPublicKey: gp.enc.publicKey, signingPublicKey: gp.sig.publicKey },
      { ...dermPerson, role: "dermatologist" },
    ];
    // What the server returns to the dermatologist: only their own wrap.
    const detail: CaseDetail = {
      case: {
        caseId: made.request.caseId,
        practiceId: "practice-1",
        serviceId: "svc",
        createdBy: gp.keys.userId,
        state: "submitted",
        priority: "routine",
        updatedAt: "",
        outcomeCategory: null,
        lastSeq: 1,
        claimedBy: null,
      },
      participants,
      caseKeys: made.request.caseKeys.filter((k) => k.recipientId === derm.keys.userId).map((k) => ({ ...k, epoch: 0 })),
      outcome: null,
    };
    const msgs: ThreadMessage[] = [
      { seq: 1, clientMsgId: made.firstMessage.clientMsgId, senderId: gp.keys.userId, envelope: made.firstMessage.envelope, createdAt: "" },
    ];
    const ck = await openMyCaseKey(derm.keys, detail);
    expect(toHex(await caseKeyCommitment(ck, { caseId: detail.case.caseId, epoch: 0 }))).toBe(toHex(headers[0]!.commitment!));
    expect((await openMessages(ck, detail, msgs)).entries).toHaveLength(1);
    await checkCaseKeyCommitment(ck, detail);

    const wrong = generateCaseKey();
    await expect(openMessages(wrong, detail, msgs)).rejects.toThrow("key commitment");
    await expect(
      openOutcome(wrong, {
        ...detail,
        outcome: { category: "advice_and_guidance", payload: made.firstMessage.envelope, authorId: gp.keys.userId },
      }),
    ).rejects.toThrow("key commitment");
  });
});
