/**
 * Case crypto of the app layer against a simulated server: the GP builds a case (wraps for
 * herself, the dermatologist and the practice records key, plus the signed clinical history);
 * the dermatologist opens the thread from what the server would return; the records key can
 * open its wrap; tampering or a non-participant sender is refused.
 */
import { describe, expect, it } from "vitest";
import type { CaseDetail, Participant, Person, ThreadMessage } from "../../src/app/api";
import { buildNewCase, openThread } from "../../src/app/cases";
import { generateKeyPair, openCaseKeyWrap } from "../../src/crypto/index";
import { hpkeRecipientFromScalar } from "../../src/crypto/primitives/hpke";
import { history, user } from "../helpers/people";

describe("case crypto in the app layer", () => {
  it("GP builds, dermatologist and records key open, tampering is refused", async () => {
    const gp = await user();
    const derm = await user();
    const records = await generateKeyPair();
    const practiceId = "practice-1";
    const dermPerson: Person = {
      userId: derm.keys.userId,
      displayName: "Dr Derm",
      roles: [{ orgId: "svc", role: "dermatologist" }],
      encryptionPublicKey: derm.enc.publicKey,
      signingPublicKey: derm.sig.publicKey,
    };
    const made = await buildNewCase(gp.keys, {
      practiceId,
      recordsPublicKey: records.publicKey,
      serviceId: "svc",
      dermatologists: [dermPerson],
      priority: "urgent",
      history,
    });
    expect(made.request.participants).toEqual([gp.keys.userId, derm.keys.userId]);
    expect(made.request.caseKeys.map((k) => [k.recipientKind, k.recipientId])).toEqual([
      ["user", gp.keys.userId],
      ["organisation", practiceId],
      ["user", derm.keys.userId],
    ]);
    expect(made.request.draft).toBe(true);

    const participants: Participant[] = [
      { userId: gp.keys.userId, role: "gp", displayName: "Dr GP", encryptionPublicKey: gp.enc.publicKey, signingPublicKey: gp.sig.publicKey },
      { ...dermPerson, role: "dermatologist" },
    ];
    const detail: CaseDetail = {
      case: {
        caseId: made.request.caseId,
        practiceId,
        serviceId: "svc",
        createdBy: gp.keys.userId,
        state: "submitted",
        priority: "urgent",
        updatedAt: "",
        outcomeCategory: null,
        lastSeq: 1,
        claimedBy: null,
      },
      participants,
      caseKeys: made.request.caseKeys.map((k) => ({ ...k, epoch: 0 })),
      outcome: null,
    };
    const msgs: ThreadMessage[] = [
      { seq: 1, clientMsgId: made.firstMessage.clientMsgId, senderId: gp.keys.userId, envelope: made.firstMessage.envelope, createdAt: "" },
    ];
    const thread = (await openThread(derm.keys, detail, msgs)).entries;
    expect(thread).toHaveLength(1);
    expect(thread[0]!.body).toEqual({ ...history, v: 1 });
    expect(thread[0]!.sender?.displayName).toBe("Dr GP");
    expect(thread[0]!.findings).toEqual([]);
    expect(thread[0]!.legacy).toBe(false);

    // The practice records key opens its wrap (records are never lost).
    const recordsWrap = made.request.caseKeys.find((k) => k.recipientKind === "organisation")!;
    const r = await hpkeRecipientFromScalar(records.privateKey, records.publicKey);
    const ck = await openCaseKeyWrap(recordsWrap.wrappedKey, {
      caseId: made.request.caseId,
      epoch: 0,
      recipient: { ...r, keyId: records.keyId },
      wrapperSigningPublicKey: gp.sig.publicKey,
    });
    expect(ck.length).toBe(32);

    // A server that flips a byte of the envelope, or claims another sender, is caught: the
    // message is one unreadable item with its reason, never shown.
    const bad = made.firstMessage.envelope.slice();
    bad[150]! ^= 1;
    const flipped = await openThread(derm.keys, detail, [{ ...msgs[0]!, envelope: bad }]);
    expect(flipped.entries).toHaveLength(0);
    expect(flipped.unreadable.map((u) => u.reason)).toEqual(["not_verified"]);
    const claimed = await openThread(derm.keys, detail, [{ ...msgs[0]!, senderId: derm.keys.userId }]);
    expect(claimed.entries).toHaveLength(0);
    expect(claimed.unreadable.map((u) => u.reason)).toEqual(["not_participant"]);
    // A server that swaps the GP's listed signing key cannot make the wrap verify.
    const swapped = { ...detail, participants: [{ ...participants[0]!, signingPublicKey: derm.sig.publicKey }, participants[1]!] };
    await expect(openThread(derm.keys, swapped, msgs)).rejects.toThrow();
    // Someone without a wrap cannot open the case.
    const stranger = await user();
    await expect(openThread(stranger.keys, detail, msgs)).rejects.toThrow("no case key for this user");
  });
});
