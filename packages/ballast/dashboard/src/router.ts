import { useEffect, useState } from "preact/hooks";

/**
 * Hash routes (`#/runs/abc`): the server serves one page at `/` and never needs to know the
 * app's paths. A dozen lines of our own instead of a router library: there are six routes and
 * no nesting.
 */

export interface Route {
  /** Path segments after `#/`, decoded. */
  parts: string[];
  query: URLSearchParams;
}

function current(): Route {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [path = "", search = ""] = hash.split("?", 2);
  return {
    parts: path
      .split("/")
      .filter((p) => p !== "")
      .map(decodeURIComponent),
    query: new URLSearchParams(search),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const onChange = () => setRoute(current());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function href(
  parts: readonly (string | number)[],
  query?: Record<string, string | undefined>,
): string {
  const path = parts.map((p) => encodeURIComponent(String(p))).join("/");
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value) search.set(key, value);
  const text = search.toString();
  return `#/${path}${text === "" ? "" : `?${text}`}`;
}

export function navigate(to: string): void {
  window.location.hash = to.startsWith("#") ? to.slice(1) : to;
}
