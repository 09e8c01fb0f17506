/**
 * Administration pages' logic (no DOM): the #/admin sub-routes, the records key made in the
 * browser (real crypto: the file it offers opens with the passphrase and names the public key
 * that is sent to the server), the fingerprint string shared with `dermline-client records-key`
 * (client_py/cli.py; tests/client_py/test_cli.py pins the same string for the same vector),
 * file names, passphrase rules and invite links.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromHex, keyId, openRecordsKeyFile, RecordsKeyFileError } from "../../src/crypto/index";
import { parseRoute, href } from "../../src/app/router";
import { isAdmin, isRecordsOfficer, parseAdminRoute } from "../../src/app/pages/Admin";
import { caseRefOf, minYearsOf } from "../../src/app/records";
import { makeRecordsKey, passphraseErrors, recordsKeyFileName, recordsKeyFingerprint } from "../../src/app/pages/AdminRecordsKey";
import { inviteLink } from "../../src/app/pages/AdminInvite";
import { ROLES_BY_KIND, orgNameError } from "../../src/app/pages/AdminCommon";
import type { Me } from "../../src/app/api";

const ORG = "0a05b2bf-d805-4be8-9866-362336a5ccbd";

describe("admin routes", () => {
  it("routes #/admin and its pages, and round-trips through href", () => {
    expect(parseRoute("#/admin")).toEqual({ name: "admin", sub: "" });
    expect(parseRoute(`#/admin/orgs/${ORG}/invite`)).toEqual({ name: "admin", sub: `/orgs/${ORG}/invite` });
    expect(href({ name: "admin", sub: "/services/new" })).toBe("#/admin/services/new");
    expect(parseRoute("#/administration")).toEqual({ name: "notFound" });
    expect(parseAdminRoute("")).toEqual({ page: "home" });
    expect(parseAdminRoute("/practices/new")).toEqual({ page: "newPractice" });
    expect(parseAdminRoute("/services/new")).toEqual({ page: "newService" });
    expect(parseAdminRoute(`/orgs/${ORG}`)).toEqual({ page: "org", orgId: ORG });
    expect(parseAdminRoute(`/orgs/${ORG}/invite`)).toEqual({ page: "invite", orgId: ORG });
    expect(parseAdminRoute(`/orgs/${ORG}/records-key`)).toEqual({ page: "recordsKey", orgId: ORG });
    expect(parseAdminRoute(`/orgs/${ORG}/retention`)).toEqual({ page: "retention", orgId: ORG });
    // Not an id, or trailing junk: not found (never passed to the API).
    expect(parseAdminRoute("/orgs/../../me")).toEqual({ page: "notFound" });
    expect(parseAdminRoute(`/orgs/${ORG}/users`)).toEqual({ page: "notFound" });
    expect(parseAdminRoute(`/orgs/${ORG.toUpperCase()}`)).toEqual({ page: "notFound" });
  });

  it("offers administration only to administrators", () => {
    const me = (roles: string[]) => ({ memberships: roles.map((role) => ({ orgId: ORG, role })) }) as unknown as Me;
    expect(isAdmin(me(["admin"]))).toBe(true);
    expect(isAdmin(me(["gp", "records_officer"]))).toBe(false);
    expect(isAdmin(null)).toBe(false);
    expect(isRecordsOfficer(me(["gp", "records_officer"]))).toBe(true);
    expect(isRecordsOfficer(me(["admin"]))).toBe(false);
  });
});

describe("records retention inputs", () => {
  const CASE = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
  it("takes a case reference typed, pasted in capitals or as the case page's address", () => {
    expect(caseRefOf(` ${CASE} `)).toBe(CASE);
    expect(caseRefOf(CASE.toUpperCase())).toBe(CASE);
    expect(caseRefOf(`https://dermline.example.nhs.uk/#/cases/${CASE}`)).toBe(CASE);
    expect(caseRefOf("")).toBeNull();
    expect(caseRefOf(CASE.slice(1))).toBeNull();
    expect(caseRefOf(`${CASE}/../x`)).toBeNull();
  });

  it("takes a minimum of 0 to 100 whole years", () => {
    expect(minYearsOf("10")).toEqual({ years: 10 });
    expect(minYearsOf(" 0 ")).toEqual({ years: 0 });
    expect(minYearsOf("100")).toEqual({ years: 100 });
    expect(minYearsOf("")).toEqual({ error: "Enter the minimum number of years, from 0 to 100" });
    expect(minYearsOf("101")).toEqual({ error: "The minimum must be 100 years or fewer" });
    expect(minYearsOf("8.5")).toEqual({ error: "The minimum must be a whole number of years, like 10" });
    expect(minYearsOf("-1")).toEqual({ error: "The minimum must be a whole number of years, like 10" });
  });
});

describe("records key made in the browser", () => {
  it("shows the key id as 8 groups of 4 hex digits, as the Python CLI does", () => {
    const vectors = JSON.parse(readFileSync(new URL("../../../tests/vectors/dermline/records_key_file.json", import.meta.url), "utf8"));
    const id = vectors.testGroups[0].tests[0].records_key_id as string;
    expect(recordsKeyFingerprint(fromHex(id))).toBe("187f fb83 f7a1 4efb b839 a1e8 55f8 27ca");
  });

  it("offers a file that opens with the passphrase and names the public key sent to the server", async () => {
    const made = await makeRecordsKey("records officer's long passphrase", "riverside-surgery-records.key");
    try {
      expect(made.publicKey.length).toBe(65);
      expect(made.fileName).toBe("riverside-surgery-records.key");
      const file = new Uint8Array(await (await fetch(made.url)).arrayBuffer());
      expect([...file.subarray(0, 3)]).toEqual([1, 1, 9]);
      expect(file.length).toBe(101);
      const pair = await openRecordsKeyFile(file, "records officer's long passphrase");
      expect(pair.publicKey).toEqual(made.publicKey);
      expect(made.fingerprint).toBe(recordsKeyFingerprint(await keyId(made.publicKey)));
      await expect(openRecordsKeyFile(file, "another passphrase!!")).rejects.toBeInstanceOf(RecordsKeyFileError);
    } finally {
      URL.revokeObjectURL(made.url);
    }
  });

  it("names the file after the practice", () => {
    expect(recordsKeyFileName("Riverside Surgery")).toBe("riverside-surgery-records.key");
    expect(recordsKeyFileName("  St. Mary's Health Centre (Ryde) ")).toBe("st-mary-s-health-centre-ryde-records.key");
    expect(recordsKeyFileName("Llanfair Pwllgwyngyll Clinig Iechyd – Gŵyr")).toBe("llanfair-pwllgwyngyll-clinig-iechyd-gwyr-records.key");
    expect(recordsKeyFileName("../../etc/passwd")).toBe("etc-passwd-records.key");
    expect(recordsKeyFileName("!!!")).toBe("practice-records.key");
    expect(recordsKeyFileName("x".repeat(300)).length).toBe(60 + "-records.key".length);
  });

  it("asks for a long passphrase typed twice the same", () => {
    expect(passphraseErrors("", "")).toEqual([{ field: "passphrase", message: "Enter a passphrase for the records key file" }]);
    expect(passphraseErrors("short", "short").map((e) => e.field)).toEqual(["passphrase"]);
    expect(passphraseErrors("long enough passphrase", "long enough passphrasE").map((e) => e.field)).toEqual(["passphrase-again"]);
    expect(passphraseErrors("long enough passphrase", "long enough passphrase")).toEqual([]);
    // Counted in characters, not UTF-16 units: 12 emoji are 12 characters.
    expect(passphraseErrors("🔑".repeat(11), "🔑".repeat(11)).map((e) => e.field)).toEqual(["passphrase"]);
    expect(passphraseErrors("🔑".repeat(12), "🔑".repeat(12))).toEqual([]);
  });
});

describe("organisations and invites", () => {
  it("checks names as the server does (1 to 200 characters after trimming)", () => {
    expect(orgNameError("   ", "practice")).toBe("Enter the name of the GP practice");
    expect(orgNameError("", "service")).toBe("Enter the name of the dermatology service");
    expect(orgNameError(` ${"a".repeat(200)} `, "service")).toBeNull();
    expect(orgNameError("a".repeat(201), "service")).toBe("The name must be 200 characters or fewer");
  });

  it("offers the roles each kind of organisation holds (server/domain/policy.py)", () => {
    expect(ROLES_BY_KIND.practice).toContain("gp");
    expect(ROLES_BY_KIND.practice).not.toContain("dermatologist");
    expect(ROLES_BY_KIND.service).toContain("dermatologist");
    expect(ROLES_BY_KIND.service).not.toContain("gp");
  });

  it("builds the invite link with the token in the fragment (never sent to the server)", () => {
    const link = new URL(inviteLink("https://dermline.example.org", "tok_EN-123"));
    expect(link.pathname).toBe("/");
    expect(link.hash).toBe("#/invite/tok_EN-123");
    expect(parseRoute(link.hash)).toEqual({ name: "invite", token: "tok_EN-123" });
  });
});
