import type { JSX } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { type InviteLink, encodeRecoveryKey, newRecoverySecret, parseInviteFragment } from "../cryptoFacade";
import { type CheckedInvite, InviteTrustError, checkCertifiedInvite, handoverWrap, memberStatementFor, pinFromInvite } from "../certifiedInvite";
import { PinStore, indexedDbPinBackend } from "../pins";
import { type Api, ApiError, type InviteInfo, apiErrorMessage } from "../api";
import { Button, ErrorSummary, type FieldError, TextInput, WarningCallout, usePageTitle } from "../components";
import { enrol } from "../enrolment";
import type { Session, UnlockedKeys } from "../session";
import { emailError, newPasswordError } from "../validation";
import { PasskeyEnrol } from "./PasskeyEnrol";
import { TotpSetup } from "./TotpSetup";

type Step = "loading" | "invalid" | "details" | "recovery" | "creating" | "authenticator" | "passkey";

const ROLE_NAMES: Record<string, string> = {
  gp: "GP",
  dermatologist: "dermatologist",
  admin: "administrator",
  records_officer: "records officer",
  auditor: "auditor",
};

/**
 * Accept an invite (docs/api.md "Invite and accept"): choose a password; see the recovery key
 * and confirm one group of it; the keys are made on this device and the account is created;
 * then enrol the authenticator app (QR code or typed key) and save the recovery codes; in an
 * organisation that requires passkeys, add one last (pages/PasskeyEnrol.tsx).
 */
export function Invite(props: { api: Api; token: string; session: Session; onSignedIn: () => void; iterations?: number }): JSX.Element {
  const { api } = props;
  // The fragment: a server-made invite's token, or a certified link token.s.okid
  // (docs/protocol.md section 21). Only the token ever goes to the server.
  const link = useMemo((): InviteLink | "malformed" | null => {
    try {
      return parseInviteFragment(props.token);
    } catch {
      return props.token.includes(".") ? "malformed" : null;
    }
  }, [props.token]);
  const token = link !== null && link !== "malformed" ? link.token : props.token;
  const [certified, setCertified] = useState<CheckedInvite | null>(null);
  const [step, setStep] = useState<Step>("loading");
  const [info, setInfo] = useState<InviteInfo | null>(null);
  const [loginName, setLoginName] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [recoveryText, setRecoveryText] = useState<string | null>(null);
  const [groupAnswer, setGroupAnswer] = useState("");
  const [keys, setKeys] = useState<{ unlocked: UnlockedKeys; kek: CryptoKey } | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const secret = useMemo(() => newRecoverySecret(), []);
  const askGroup = useMemo(() => 1 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 14), []);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;

  useEffect(() => {
    if (link === "malformed") {
      setErrors([{ field: "invite", message: "This invitation link is not complete. Copy the whole link from the message you were sent, or ask your administrator for a new one." }]);
      setStep("invalid");
      return;
    }
    api.inspectInvite(token).then(
      async (i) => {
        if (link?.certified) {
          // The organisation key named in the link must have certified this invite.
          try {
            setCertified(
              await checkCertifiedInvite(link, {
                orgId: i.orgId ?? "",
                role: i.role,
                treeHead: i.treeHead ?? null,
                logPublicKey: i.logPublicKey ?? null,
                inviteStatement: i.inviteStatement ?? null,
                orgKey: i.orgKey ?? null,
                handover: i.handover ?? null,
              }),
            );
          } catch (e) {
            setErrors([{ field: "invite", message: e instanceof InviteTrustError ? e.message : apiErrorMessage(e) }]);
            setStep("invalid");
            return;
          }
        }
        setInfo(i);
        if (i.loginName) setLoginName(i.loginName);
        setStep("details");
      },
      (e) => {
        setErrors([{ field: "invite", message: apiErrorMessage(e) }]);
        setStep("invalid");
      },
    );
  }, [api, token]);

  const title =
    step === "recovery"
      ? "Save your recovery key"
      : step === "authenticator"
        ? "Set up your authenticator app"
        : step === "invalid"
          ? "This invitation cannot be used"
          : "Set up your Dermline account";
  usePageTitle(title, errors.length > 0 && step !== "authenticator");

  function submitDetails(ev: Event) {
    ev.preventDefault();
    const found: FieldError[] = [];
    const e0 = emailError(loginName);
    if (e0) found.push({ field: "login-name", message: e0 });
    if (displayName.trim().length === 0) found.push({ field: "display-name", message: "Enter your full name" });
    const e1 = newPasswordError(password);
    if (e1) found.push({ field: "password", message: e1 });
    else if (confirm !== password) found.push({ field: "confirm", message: "Passwords do not match: enter the same password twice" });
    setErrors(found);
    if (found.length === 0) {
      void encodeRecoveryKey(secret).then((t) => {
        setRecoveryText(t);
        setStep("recovery");
      });
    }
  }

  async function submitRecovery(ev: Event) {
    ev.preventDefault();
    const group = recoveryText?.split("-")[askGroup - 1] ?? "";
    if (groupAnswer.replace(/\s/g, "").toUpperCase() !== group) {
      setErrors([{ field: "group", message: `Enter group ${askGroup} of your recovery key exactly as it is written` }]);
      return;
    }
    setErrors([]);
    setStep("creating");
    try {
      const name = loginName.trim();
      const made = await enrol(
        { token, userId: crypto.randomUUID(), loginName: name, displayName: displayName.trim(), password },
        secret,
        props.iterations,
      );
      if (certified) {
        // The new keys, certified by the invite key (then forgotten): docs/protocol.md 21.
        made.request.memberStatement = await memberStatementFor(certified, {
          userId: made.request.userId,
          signingPublicKey: made.request.signingPublicKey,
          encryptionPublicKey: made.request.encryptionPublicKey,
        });
      }
      await api.acceptInvite(made.request);
      // Sign in straight away with the auth key we just made (no second PBKDF2 run).
      await api.login(name, made.request.authKey);
      if (certified) {
        await pinFromInvite(new PinStore(made.request.userId, indexedDbPinBackend()), certified);
        // An administrator's invite: take the organisation key from the handover and wrap it to
        // myself, so that it no longer depends on the link.
        const wrap = await handoverWrap(certified, made.keys);
        if (wrap !== null) await api.addOrgKeyWraps(certified.orgId, [wrap]);
      }
      setKeys({ unlocked: made.keys, kek: made.kek });
      setPassword("");
      setConfirm("");
      setStep("authenticator");
    } catch (e) {
      setErrors([{ field: "login-name", message: apiErrorMessage(e) }]);
      setStep("details");
    }
  }

  const stepNumber = step === "recovery" ? 2 : step === "authenticator" ? 3 : 1;
  const signedIn = () => {
    props.session.unlock(keys!.unlocked);
    props.onSignedIn();
  };
  if (step === "passkey" && keys) {
    return <PasskeyEnrol api={api} kek={keys.kek} caption="Set up your account - last step" onDone={signedIn} />;
  }
  if (step === "authenticator" && keys) {
    // Under the organisation's passkey requirement the session stays pending after the
    // authenticator (docs/api.md "Passkeys"): /me answers mfa_required, and a passkey follows.
    const done = () =>
      void api.me().then(signedIn, (e) => {
        if (e instanceof ApiError && e.code === "mfa_required") setStep("passkey");
        else setErrors([{ field: "login-name", message: apiErrorMessage(e) }]);
      });
    return (
      <>
        <ErrorSummary errors={errors} />
        <TotpSetup api={api} caption="Set up your account - step 3 of 3" onDone={done} />
      </>
    );
  }
  return (
    <>
      <ErrorSummary errors={errors} />
      {step !== "invalid" && step !== "loading" && (
        <span class="nhsuk-caption-l">
          Set up your account <span class="nhsuk-u-visually-hidden">-</span> step {stepNumber} of 3
        </span>
      )}
      <h1>{title}</h1>
      {step === "loading" && <p>Checking your invitation…</p>}
      {step === "invalid" && <p id="invite">{errors[0]?.message}</p>}
      {step === "details" && info && (
        <form onSubmit={submitDetails} noValidate>
          <p>
            You have been invited to {info.orgName} as {ROLE_NAMES[info.role] ?? info.role}. Your password protects the keys that
            encrypt your cases. Nobody at Dermline can see it or reset it.
          </p>
          {certified && (
            <p data-testid="invite-certified">
              <strong class="nhsuk-tag nhsuk-tag--blue">Certified by {certified.orgName}</strong> This invitation link carries your organisation's
              key: this device will trust the people your organisation certifies.
            </p>
          )}
          <TextInput id="login-name" label="Email address" type="email" autocomplete="username" inputMode="email" value={loginName} onInput={setLoginName} error={err("login-name")} />
          <TextInput id="display-name" label="Full name" hint="Shown to the people you work with on cases" autocomplete="name" value={displayName} onInput={setDisplayName} error={err("display-name")} />
          <TextInput id="password" label="Password" hint="Use 12 characters or more. A few unrelated words make a strong password." type="password" autocomplete="new-password" value={password} onInput={setPassword} error={err("password")} />
          <TextInput id="confirm" label="Enter the password again" type="password" autocomplete="new-password" value={confirm} onInput={setConfirm} error={err("confirm")} />
          <Button>Continue</Button>
        </form>
      )}
      {(step === "recovery" || step === "creating") && recoveryText && (
        <form onSubmit={submitRecovery} noValidate>
          <WarningCallout title="Write this down now">
            <p>If you forget your password, this recovery key is the only way back into your account without help from your records officer.</p>
          </WarningCallout>
          <p class="dl-recovery-key" data-testid="recovery-key">
            {recoveryText.split("-").map((g, i) => (
              <span class="dl-recovery-group" key={i}>
                <span class="nhsuk-u-visually-hidden">Group {i + 1}: </span>
                {g}
              </span>
            ))}
          </p>
          <TextInput id="group" label={`Enter group ${askGroup} of your recovery key`} hint="This checks that you have written it down correctly" width={10} value={groupAnswer} onInput={setGroupAnswer} error={err("group")} />
          <Button disabled={step === "creating"}>{step === "creating" ? "Creating your account…" : "Create account"}</Button>
        </form>
      )}
    </>
  );
}
