/**
 * Sharing the case key with service colleagues who joined later (docs/api.md, "Sharing the
 * case key"; docs/protocol.md section 8): who lacks it (directory dermatologists minus
 * participants), the wraps carry the epoch's commitment, and a newcomer opens a wrap made by a
 * participant who is not the creator, but not one made by someone who is not a participant.
 */
import { describe, expect, it } from "vitest";
import type { CaseDetail, Participant, Person, ThreadMessage } from "../../src/app/api";
import { buildNewCase, buildShareWraps, colleaguesWithoutKey, openMessages, openMyCaseKey } from "../../src/app/cases";
import { caseKeyCommitment, generateCaseKey, generateKeyPair, parseCaseKeyWrapHeader } from "../../src/crypto/index";
import { toHex } from "../../src/crypto/bytes";
import { history, user } from "../helpers/people";

type Someone = Awaited<ReturnType<typeof user>>;

function person(u: Someone, name: string, roles: Person["roles"]): Person {
  return { userId: u.keys.userId, displayName: name, roles, encryptionPublicKey: u.enc.publicKey, signingPublicKey: u.sig.publicKey };
}

function participant(u: Someone, role: string): Participant {
  return { userId: u.keys.userId, role, displayName: role, encryptionPublicKey: u.enc.publicKey, signingPublicKey: u.sig.publicKey };
}

function detailFor(caseId: string, createdBy: string, participants: Participant[], caseKeys: CaseDetail["caseKeys"]): CaseDetail {
  return {
    case: {
      caseId,
      practiceId: "practice-1",
      serviceId: "svc",
      createdBy,
      state: "closed",
      priority: "routine",
      updatedAt: "",
      outcomeCategory: null,
      lastSeq: 1,
      claimedBy: null,
    },
    participants,
    caseKeys,
    outcome: null,
  };
}

describe("sharing the case key within an epoch", () => {
  it("lists the service's dermatologists who are not participants", async () => {
    const [gp, derm, late, auditor, other] = await Promise.all([user(), user(), user(), user(), user()]);
    const directory = [
      person(derm, "Dr Derm", [{ orgId: "svc", role: "dermatologist" }]),
      person(late, "Dr Late", [{ orgId: "svc", role: "dermatologist" }]),
      person(auditor, "Audrey", [{ orgId: "svc", role: "auditor" }]),
      person(other, "Dr Elsewhere", [{ orgId: "svc-2", role: "dermatologist" }]),
    ];
    const d = detailFor(crypto.randomUUID(), gp.keys.userId, [participant(gp, "gp"), participant(derm, "dermatologist")], []);
    expect(colleaguesWithoutKey(directory, d).map((p) => p.displayName)).toEqual(["Dr Late"]);
    const all = { ...d, participants: [...d.participants, participant(late, "dermatologist")] };
    expect(colleaguesWithoutKey(directory, all)).toEqual([]);
  });

  it("a dermatologist shares the same key; the newcomer opens it and the thread", async () => {
    const [gp, derm, late, stranger] = await Promise.all([user(), user(), user(), user()]);
    const records = await generateKeyPair();
    const made = await buildNewCase(gp.keys, {
      practiceId: "practice-1",
      recordsPublicKey: records.publicKey,
      serviceId: "svc",
      dermatologists: [person(derm, "Dr Derm", [{ orgId: "svc", role: "dermatologist" }])],
      priority: "routine",
      history,
    });
    const caseId = made.request.caseId;
    const participants = [participant(gp, "gp"), participant(derm, "dermatologist")];
    const dermWrap = made.request.caseKeys.filter((k) => k.recipientId === derm.keys.userId).map((k) => ({ ...k, epoch: 0 }));
    const caseKey = await openMyCaseKey(derm.keys, detailFor(caseId, gp.keys.userId, participants, dermWrap));
    const epochCommitment = parseCaseKeyWrapHeader(made.request.caseKeys[0]!.wrappedKey).commitment!;

    const [wrap] = await buildShareWraps(derm.keys, {
      caseKey,
      caseId,
      colleagues: [person(late, "Dr Late", [{ orgId: "svc", role: "dermatologist" }])],
    });
    const header = parseCaseKeyWrapHeader(wrap!.wrappedKey);
    expect(wrap!.recipientId).toBe(late.keys.userId);
    expect(header.wrapperUserId).toBe(derm.keys.userId);
    expect(header.epoch).toBe(0);
    expect(toHex(header.commitment!)).toBe(toHex(epochCommitment));

    // What the server then returns to the newcomer: its own wrap, made by the dermatologist.
    const shared = detailFor(caseId, gp.keys.userId, [...participants, participant(late, "dermatologist")], [
      { epoch: 0, recipientKind: "user", recipientId: late.keys.userId, wrappedKey: wrap!.wrappedKey },
    ]);
    const opened = await openMyCaseKey(late.keys, shared);
    expect(toHex(opened)).toBe(toHex(caseKey));
    const msgs: ThreadMessage[] = [
      { seq: 1, clientMsgId: made.firstMessage.clientMsgId, senderId: gp.keys.userId, envelope: made.firstMessage.envelope, createdAt: "" },
    ];
    expect((await openMessages(opened, shared, msgs)).entries).toHaveLength(1);

    // A wrap made by someone who is not a listed participant is refused before opening.
    const [foreign] = await buildShareWraps(stranger.keys, {
      caseKey,
      caseId,
      colleagues: [person(late, "Dr Late", [{ orgId: "svc", role: "dermatologist" }])],
    });
    await expect(openMyCaseKey(late.keys, { ...shared, caseKeys: [{ ...shared.caseKeys[0]!, wrappedKey: foreign!.wrappedKey }] })).rejects.toThrow(
      "not a participant",
    );
    // A share of another key carries another commitment (the server refuses it: case_key_mismatch).
    const other = generateCaseKey();
    const [forged] = await buildShareWraps(derm.keys, { caseKey: other, caseId, colleagues: [person(late, "Dr Late", [])] });
    const forgedCommitment = parseCaseKeyWrapHeader(forged!.wrappedKey).commitment!;
    expect(toHex(forgedCommitment)).toBe(toHex(await caseKeyCommitment(other, { caseId, epoch: 0 })));
    expect(toHex(forgedCommitment)).not.toBe(toHex(epochCommitment));
  });
});
