// Smoke test of a TypeScript client generated from Custos's /openapi.json: `schema.d.ts` is
// written beside this file by openapi-typescript at test time, and openapi-fetch types every
// call from it. Run by crates/cli/tests/it/api_contract.rs against `custos serve --demo`:
//
//     node out/smoke.js <base URL> <app key>
//
// Reads /healthz and the policy without a key, stores a record with the app key, lists the
// subject's records, and reads a refusal as a typed problem document.

import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];

function check(ok: boolean, what: string, seen: unknown): void {
  if (!ok) {
    throw new Error(`${what}: ${JSON.stringify(seen)}`);
  }
}

async function main(): Promise<void> {
  const [baseUrl, appKey] = process.argv.slice(2);
  if (!baseUrl || !appKey) {
    throw new Error("usage: node out/smoke.js <base URL> <app key>");
  }
  const pub = createClient<paths>({ baseUrl });
  const health = await pub.GET("/healthz");
  check(health.data?.status === "ok", "healthz", health.data);

  const policy = await pub.GET("/v1/policy");
  check(policy.response.status === 200 && policy.data !== undefined, "policy", policy.response.status);

  const app = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${appKey}` } });
  const subject = "typescript-client@example.org";
  const stored = await app.POST("/v1/records", {
    body: { subject, category: "support", purposes: ["support"], data: { question: "invoice?" } },
  });
  const record = stored.data;
  check(record !== undefined && record.id.length === 32, "put_record", stored.error);
  if (record === undefined) return;

  const page = await app.POST("/v1/records/query", { body: { subject } });
  const ids = page.data?.records.map((r) => r.id) ?? [];
  check(ids.length === 1 && ids[0] === record.id, "list_records", page.data);

  const refused = await app.POST("/v1/records", {
    body: { subject, category: "no.such.category", purposes: ["support"], data: {} },
  });
  const problem: Problem | undefined = refused.error as Problem | undefined;
  check(
    refused.response.status === 422 && problem?.code === "unknown-category",
    "problem",
    refused.error,
  );
  console.log("typescript client: healthz, policy, put_record, list_records, problem: ok");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
