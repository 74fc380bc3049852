import { useEffect, useRef, useState } from "preact/hooks";
import { session } from "./api.ts";
import { AuditPage } from "./pages/audit.tsx";
import { CostsPage } from "./pages/costs.tsx";
import { EventPage } from "./pages/event.tsx";
import { RunPage } from "./pages/run.tsx";
import { RunsPageView } from "./pages/runs.tsx";
import { SearchPage } from "./pages/search.tsx";
import { href, type Route, useRoute } from "./router.ts";

const NAV = [
  { key: "runs", label: "Runs" },
  { key: "costs", label: "Costs" },
  { key: "search", label: "Search" },
  { key: "audit", label: "Audit" },
];

function SignIn({ reason, onDone }: { reason: string; onDone: () => void }) {
  const [token, setToken] = useState("");
  const [tenant, setTenant] = useState(session.tenant() ?? "");
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  return (
    <section class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <p>{reason}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          session.set(token.trim(), tenant.trim());
          onDone();
        }}
      >
        <label>
          API token
          <input
            ref={first}
            type="password"
            autoComplete="off"
            value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            required
          />
        </label>
        <label>
          Tenant (optional)
          <input value={tenant} onInput={(e) => setTenant((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">The token stays in this tab (session storage) and is sent only to this server.</p>
    </section>
  );
}

function Page({ route }: { route: Route }) {
  const [first = "runs", second, third, fourth] = route.parts;
  if (first === "runs" && second !== undefined && third === "events" && fourth !== undefined) {
    return <EventPage key={`${second}/${fourth}`} runId={second} seq={fourth} />;
  }
  if (first === "runs" && second !== undefined) return <RunPage key={second} runId={second} />;
  if (first === "runs") return <RunsPageView route={route} />;
  if (first === "costs") return <CostsPage route={route} />;
  if (first === "search") return <SearchPage route={route} />;
  if (first === "audit") return <AuditPage route={route} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page here. <a href={href(["runs"])}>Go to the runs.</a>
      </p>
    </section>
  );
}

export function App() {
  const route = useRoute();
  const [unauthorized, setUnauthorized] = useState<string | undefined>();
  const [signedIn, setSignedIn] = useState(session.token() !== null);
  const [generation, setGeneration] = useState(0);
  const main = useRef<HTMLElement>(null);
  const section = route.parts[0] ?? "runs";

  useEffect(() => {
    const onDenied = (event: Event) => setUnauthorized((event as CustomEvent<string>).detail);
    const onSession = () => setSignedIn(session.token() !== null);
    window.addEventListener("ballast:unauthorized", onDenied);
    window.addEventListener("ballast:session", onSession);
    return () => {
      window.removeEventListener("ballast:unauthorized", onDenied);
      window.removeEventListener("ballast:session", onSession);
    };
  }, []);

  // Moving to another page moves focus to its content, as a page load would.
  const path = route.parts.join("/");
  const firstRender = useRef(true);
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    main.current?.focus();
  }, [path]);

  return (
    <>
      {/* A button, not a #main link: the app's routes live in the URL's hash. */}
      <button type="button" class="skip" onClick={() => main.current?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <a class="brand" href={href(["runs"])}>
          ballast
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.key}>
                <a href={href([item.key])} aria-current={section === item.key ? "page" : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {signedIn ? (
            <>
              <span class="muted">{session.tenant() ? `tenant ${session.tenant()}` : "signed in"}</span>
              <button
                type="button"
                class="link"
                onClick={() => {
                  session.clear();
                  setGeneration((n) => n + 1);
                }}
              >
                Sign out
              </button>
            </>
          ) : null}
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {unauthorized !== undefined ? (
          <SignIn
            reason={unauthorized}
            onDone={() => {
              setUnauthorized(undefined);
              setGeneration((n) => n + 1);
            }}
          />
        ) : (
          <Page key={generation} route={route} />
        )}
      </main>
    </>
  );
}
