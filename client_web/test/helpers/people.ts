/** Shared fixtures of the app-layer tests: a person with fresh account keys, and a history. */
import type { ClinicalHistory } from "../../src/app/cases";
import type { UnlockedKeys } from "../../src/app/session";
import { KeyPurpose, generateKeyPair, generateUsk, importUsk, toAccountKey, type KeyPair } from "../../src/crypto/index";

export async function user(): Promise<{ keys: UnlockedKeys; enc: KeyPair; sig: KeyPair }> {
  const enc = await generateKeyPair();
  const sig = await generateKeyPair();
  return {
    enc,
    sig,
    keys: {
      userId: crypto.randomUUID(),
      usk: await importUsk(generateUsk()),
      encryption: await toAccountKey(enc, KeyPurpose.ENCRYPTION),
      signing: await toAccountKey(sig, KeyPurpose.SIGNING),
    },
  };
}

export const history: ClinicalHistory = {
  patient: { nhs_number: "9434765919", name: "Test Patient", date_of_birth: "1961-03-15", sex: "female" },
  body_site: "left forearm",
  duration: "6 weeks",
  changes: { size: true, shape: false, colour: true },
  symptoms: { itch: false, bleeding: true, scaling: false, soreness: false },
  previous_skin_cancer: false,
  skin_type: "II",
  question: "Is this a basal cell carcinoma?",
  consent_to_photography: true,
};
