import { createRequire } from "node:module";
import type * as CedarModule from "@cedar-policy/cedar-wasm/nodejs";

/**
 * Cedar (the AWS policy language, as WebAssembly) is the evaluator behind the policy engine:
 * default deny, forbid over permit, the determining policies as reasons, errors reported
 * per policy, and schema validation of policies and requests. It is loaded on first use
 * (about 4 MB of WebAssembly, compiled synchronously by its Node build), so importing
 * `ballast` or even `ballast/guard` costs nothing until a policy is compiled.
 */

export type Cedar = typeof CedarModule;
export type {
  AuthorizationAnswer,
  DetailedError,
  EntityJson,
  Expr,
  PatternElem,
  PolicyJson,
  SchemaJson,
} from "@cedar-policy/cedar-wasm/nodejs";

let cedar: Cedar | undefined;

export function loadCedar(): Cedar {
  cedar ??= createRequire(import.meta.url)("@cedar-policy/cedar-wasm/nodejs") as Cedar;
  return cedar;
}

/** Whether Cedar has been loaded in this process (for the lazy-load test). */
export function isCedarLoaded(): boolean {
  return cedar !== undefined;
}
