import { EventSourceParserStream } from "eventsource-parser/stream";

/**
 * The dashboard's only way out: `fetch` to this server's own `/v1` API, with the token and
 * tenant the user signed in with. The token lives in sessionStorage (gone when the browser
 * closes) and is sent as a bearer header, which is why live streams read Server-Sent Events
 * through `fetch` rather than `EventSource` (which cannot send headers).
 */

const TOKEN_KEY = "ballast.token";
const TENANT_KEY = "ballast.tenant";

export const session = {
  token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  tenant(): string | null {
    return sessionStorage.getItem(TENANT_KEY);
  },
  set(token: string, tenant: string): void {
    if (token === "") sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
    if (tenant === "") sessionStorage.removeItem(TENANT_KEY);
    else sessionStorage.setItem(TENANT_KEY, tenant);
    window.dispatchEvent(new Event("ballast:session"));
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TENANT_KEY);
    window.dispatchEvent(new Event("ballast:session"));
  },
};

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly traceId: string | undefined;

  constructor(status: number, code: string, message: string, traceId?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.traceId = traceId;
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { accept: "application/json", ...extra };
  const token = session.token();
  const tenant = session.tenant();
  if (token) out["authorization"] = `Bearer ${token}`;
  if (tenant) out["x-tenant"] = tenant;
  return out;
}

async function failure(response: Response): Promise<ApiError> {
  let code = "internal";
  let message = `The server answered ${response.status}.`;
  let traceId: string | undefined;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; traceId?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
    traceId = body.error?.traceId;
  } catch {
    // not the error envelope: keep the generic message
  }
  const error = new ApiError(response.status, code, message, traceId);
  if (response.status === 401)
    window.dispatchEvent(new CustomEvent("ballast:unauthorized", { detail: message }));
  return error;
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

export async function api<T>(
  path: string,
  init: { method?: "GET" | "POST"; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const response = await fetch(path, {
    method: init.method ?? "GET",
    headers: headers(init.body === undefined ? {} : { "content-type": "application/json" }),
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    ...(init.signal === undefined ? {} : { signal: init.signal }),
    credentials: "omit",
    cache: "no-store",
  });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

export interface StreamEvent {
  id: string | undefined;
  event: string;
  data: unknown;
}

/**
 * Reads a Server-Sent Events stream until it ends or `signal` aborts, reconnecting after a
 * network failure (from the last id seen, `?fromSeq=` for run streams).
 */
export async function stream(
  path: string,
  onEvent: (event: StreamEvent) => void,
  signal: AbortSignal,
  resumeFrom?: (lastId: string) => string,
): Promise<void> {
  let url = path;
  let lastId: string | undefined;
  while (!signal.aborted) {
    try {
      const response = await fetch(url, {
        headers: headers({ accept: "text/event-stream" }),
        signal,
        credentials: "omit",
        cache: "no-store",
      });
      if (!response.ok) throw await failure(response);
      if (response.body === null) return;
      const reader = response.body
        .pipeThrough(new TextDecoderStream())
        .pipeThrough(new EventSourceParserStream())
        .getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value.id) lastId = value.id;
        const data = value.data === "" ? null : (JSON.parse(value.data) as unknown);
        if (value.event === "end") return;
        if (value.event === "error") throw new ApiError(500, "stream_failed", JSON.stringify(data));
        onEvent({ id: value.id, event: value.event ?? "message", data });
      }
      return;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      if (lastId !== undefined && resumeFrom) url = resumeFrom(lastId);
    }
  }
}
