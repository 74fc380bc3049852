import type { ComponentChildren } from "preact";
import { ApiError } from "../api.ts";

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status.replace(/_/g, "-")}`}>{status.replace(/_/g, " ")}</span>;
}

export function Tag({
  kind,
  children,
  title,
}: {
  kind: string;
  children: ComponentChildren;
  title?: string;
}) {
  return (
    <span class={`tag tag-${kind}`} title={title}>
      {children}
    </span>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <div class="notice notice-error" role="alert">
      {code ? <strong>{code}: </strong> : null}
      {message}
      {error instanceof ApiError && error.traceId ? (
        <span class="muted"> (trace {error.traceId})</span>
      ) : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** A value shown formatted, carrying the raw number for scripts and tests. */
export function Num({ value, text, field }: { value: number | null; text: string; field: string }) {
  return (
    <span data-field={field} data-value={value === null ? "" : String(value)}>
      {text}
    </span>
  );
}

/** JSON (or any value from a model or a step) as plain text, never as markup. */
export function TextBlock({ value, label }: { value: unknown; label: string }) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region takes focus so the keyboard can scroll it.
    <section class="text-block" aria-label={label} tabIndex={0}>
      <pre>{text ?? "(nothing)"}</pre>
    </section>
  );
}

export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
