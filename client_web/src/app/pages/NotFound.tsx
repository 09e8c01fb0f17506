import type { JSX } from "preact";
import { usePageTitle } from "../components";

export function NotFound(): JSX.Element {
  usePageTitle("Page not found");
  return (
    <>
      <h1>Page not found</h1>
      <p>If you typed the web address, check it is correct.</p>
      <p>
        <a href="#/">Go to the Dermline start page</a>
      </p>
    </>
  );
}
