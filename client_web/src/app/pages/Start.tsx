import type { JSX } from "preact";
import { usePageTitle } from "../components";

export function Start(): JSX.Element {
  usePageTitle("Secure skin advice and guidance");
  return (
    <>
      <h1>Secure skin advice and guidance</h1>
      <p class="nhsuk-lede-text">
        Send a skin case with photos to dermatology and get advice, usually the same day.
      </p>
      <p>Cases, messages and photos are encrypted on this device before they are sent.</p>
      <a class="nhsuk-button" href="#/login" role="button" draggable={false}>
        Sign in
      </a>
      <p>
        If you have been invited, open the link in your invitation email to set up your account.
      </p>
    </>
  );
}
