/**
 * Resources are written `tenant:resource` (`acme:runs/42`); grants and rules match them
 * with patterns whose parts may end in `*` (`acme:runs/*`, `*:health`, `*`). Request
 * resources never contain wildcards.
 */

export interface ResourceRef {
  tenant: string;
  path: string;
  raw: string;
}

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PATH = /^[^\s*\u0000-\u001f\u007f]{1,512}$/;
const NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;

/** Parses a request resource; `undefined` when it is malformed (no tenant, wildcard, ...). */
export function parseResource(raw: string): ResourceRef | undefined {
  if (typeof raw !== "string") return undefined;
  const colon = raw.indexOf(":");
  if (colon <= 0) return undefined;
  const tenant = raw.slice(0, colon);
  const path = raw.slice(colon + 1);
  if (!TENANT.test(tenant) || !PATH.test(path)) return undefined;
  return { tenant, path, raw };
}

export function isValidTenant(tenant: string): boolean {
  return TENANT.test(tenant);
}

/** A glob with `*` only at the end (`prefix*`) or alone (`*`), split for matching. */
export interface PrefixPattern {
  /** The literal part. */
  prefix: string;
  /** Whether anything may follow the prefix. */
  wildcard: boolean;
}

export interface ResourcePattern {
  tenant: PrefixPattern;
  path: PrefixPattern;
  raw: string;
}

function prefixPattern(text: string, valid: (literal: string) => boolean): PrefixPattern | undefined {
  const star = text.indexOf("*");
  if (star === -1) return valid(text) ? { prefix: text, wildcard: false } : undefined;
  if (star !== text.length - 1) return undefined;
  const prefix = text.slice(0, -1);
  return prefix === "" || valid(prefix) ? { prefix, wildcard: true } : undefined;
}

/**
 * Parses a resource pattern: `*` (anything), `tenant:*`, `tenant:prefix*`, `*:path`,
 * `te*:x`. Wildcards only at the end of a part. `undefined` when malformed.
 */
export function parseResourcePattern(raw: string): ResourcePattern | undefined {
  if (typeof raw !== "string") return undefined;
  if (raw === "*")
    return { tenant: { prefix: "", wildcard: true }, path: { prefix: "", wildcard: true }, raw };
  const colon = raw.indexOf(":");
  if (colon <= 0) return undefined;
  const tenant = prefixPattern(raw.slice(0, colon), (t) => /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(t));
  const path = prefixPattern(raw.slice(colon + 1), (p) => PATH.test(p));
  if (tenant === undefined || path === undefined) return undefined;
  return { tenant, path, raw };
}

/** Parses an action pattern: a name (`runs.read`), `prefix*` (`runs.*`) or `*`. */
export function parseNamePattern(raw: string): PrefixPattern | undefined {
  if (typeof raw !== "string") return undefined;
  return prefixPattern(raw, (n) => NAME.test(n));
}

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

export function matchesPrefix(pattern: PrefixPattern, value: string): boolean {
  return pattern.wildcard ? value.startsWith(pattern.prefix) : value === pattern.prefix;
}

export function matchesResource(pattern: ResourcePattern, resource: ResourceRef): boolean {
  return matchesPrefix(pattern.tenant, resource.tenant) && matchesPrefix(pattern.path, resource.path);
}
