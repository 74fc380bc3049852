import { openContext } from "../context/engine.ts";
import { AuditLog } from "../guard/audit-log.ts";
import { PolicyEngine } from "../guard/policy-engine.ts";
import { resolveHome } from "../home.ts";
import { openJournal } from "../journal/index.ts";
import type { Durability, JournalStore } from "../journal/types.ts";
import type { ContextSearcher } from "./operations.ts";
import { loadProxyConfig } from "./proxy/config.ts";
import type { ProxyOptions } from "./proxy/routes.ts";
import { loadTokens, type TokenEntry } from "./tokens.ts";

/**
 * What `ballast serve` and `ballast mcp` serve, opened from a ballast home: the journal,
 * the audit log, the context index (all in `<home>/ballast.db`), the tokens, the policy
 * engine (only when there are tokens) and the proxy configuration.
 */

export interface HomeServices {
  home: string;
  journal: JournalStore;
  audit: AuditLog;
  context: ContextSearcher & { close(): Promise<void> };
  tokens: TokenEntry[];
  policy: PolicyEngine | undefined;
  proxy: ProxyOptions | undefined;
  /** Problems worth telling the operator at start-up (the server still starts). */
  warnings: string[];
  close(): Promise<void>;
}

export async function openHomeServices(
  options: {
    home?: string | undefined;
    env?: Readonly<Record<string, string | undefined>>;
    durability?: Durability;
    proxy?: boolean;
  } = {},
): Promise<HomeServices> {
  const env = options.env ?? process.env;
  const home = resolveHome(options.home);
  const tokens = loadTokens({ home, env });
  const proxy = options.proxy === false ? undefined : await loadProxyConfig({ home, env });
  const journal = await openJournal({
    home,
    ...(options.durability === undefined ? {} : { durability: options.durability }),
  });
  const audit = AuditLog.open({ home, env });
  const context = await openContext({ home });
  const warnings: string[] = [];
  let policy: PolicyEngine | undefined;
  if (tokens.length > 0) {
    // Allowed decisions are not audited unless asked for: a busy server would write one
    // record per request. Denials always are.
    const sampled = env["BALLAST_AUDIT_ALLOW_SAMPLE_PCT"];
    policy = PolicyEngine.fromEnv({
      env: {
        ...env,
        BALLAST_AUDIT_ALLOW_SAMPLE_PCT: sampled === undefined || sampled === "" ? "0" : sampled,
      },
      home,
      audit,
    });
    if (policy.policyVersion === "none") {
      warnings.push(
        `No valid policy in ${home}/policy.json and rbac.json (or BALLAST_POLICY / BALLAST_RBAC_GRANTS): every request will be denied (fail-closed). See \`ballast serve --help\`.`,
      );
    }
  }
  return {
    home,
    journal,
    audit,
    context,
    tokens,
    policy,
    proxy,
    warnings,
    async close() {
      await context.close();
      audit.close();
      await journal.close();
    },
  };
}
