import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BallastService } from "../grpc/ballast_pb.ts";
import type { BallastServer } from "../server.ts";
import { readTlsFiles, settingsFromEnv } from "../settings.ts";
import { type Fixture, fixture, serverFor } from "../test-harness.ts";

let fx: Fixture;
let server: BallastServer;
let url: string;
let grpcUrl: string | undefined;
let cert: Buffer;

beforeAll(async () => {
  fx = await fixture();
  const certPath = join(fx.home, "cert.pem");
  const keyPath = join(fx.home, "key.pem");
  // A throwaway self-signed certificate for 127.0.0.1 (openssl ships with the OS image).
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-days",
      "1",
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ],
    { stdio: "ignore" },
  );
  cert = readFileSync(certPath);
  const fromEnv = settingsFromEnv({ BALLAST_TLS_CERT: certPath, BALLAST_TLS_KEY: keyPath });
  server = await serverFor(fx, { tls: fromEnv.tls! });
  ({ url, grpcUrl } = await server.listen());
});

afterAll(async () => {
  await server.close();
  await fx.close();
});

function getJson(path: string): Promise<{ status: number; body: unknown; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { ca: cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
          protocol: `HTTP/${res.httpVersion}`,
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("native HTTPS", () => {
  it("serves the HTTP API over TLS (HTTP/1.1 clients) and gRPC on the same port (HTTP/2)", async () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(grpcUrl).toBe(url);
    const health = await getJson("/v1/health");
    expect(health).toMatchObject({ status: 200, body: { status: "ok" }, protocol: "HTTP/1.1" });

    const client = createClient(
      BallastService,
      createGrpcTransport({ baseUrl: url, nodeOptions: { ca: cert } }),
    );
    const viaGrpc = await client.health({});
    expect(viaGrpc.status).toBe("ok");
  });

  it("rejects incomplete or unreadable TLS settings", () => {
    expect(() => settingsFromEnv({ BALLAST_TLS_CERT: "/x.pem" })).toThrow(
      /BALLAST_TLS_CERT and BALLAST_TLS_KEY/,
    );
    writeFileSync(join(fx.home, "only-cert.pem"), cert);
    expect(() => readTlsFiles(join(fx.home, "only-cert.pem"), join(fx.home, "missing.pem"))).toThrow(
      /Cannot read the TLS key/,
    );
  });
});
