// A subscription's lifecycle through a client generated from api/openapi.yaml
// (openapi-typescript types + openapi-fetch), as a merchant's TypeScript integration would
// write it: if the spec types a request or a response wrong, this file fails to compile or
// an assertion fails at run time. tests/client/run.sh generates ./recur.js (recur.d.ts),
// compiles this file and runs it against a fresh server.
//   env: RECUR_CLIENT_URL (the server's base URL), RECUR_CLIENT_KEY (an admin API key)
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./recur.js";

type Problem = components["schemas"]["Problem"];
type ProblemCode = Problem["code"];

const baseUrl = process.env["RECUR_CLIENT_URL"];
const key = process.env["RECUR_CLIENT_KEY"];
if (!baseUrl || !key) throw new Error("set RECUR_CLIENT_URL and RECUR_CLIENT_KEY");

const recur = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${key}` },
  // openapi-fetch does not read a parameter's style from the spec: `status` is
  // `style: form, explode: false` (status=a,b), and a repeated parameter is a 422.
  querySerializer: { array: { style: "form", explode: false } },
});

// The answer of one call: either branch of openapi-fetch's result.
interface Answer<D, E> {
  data?: D;
  error?: E;
  response: Response;
}

// The typed `data` of a call that must succeed with `status`; anything else fails the step.
function expectData<D, E>(step: string, answer: Answer<D, E>, status: number): D {
  const { data, error, response } = answer;
  if (data === undefined) {
    throw new Error(`${step}: HTTP ${response.status} ${response.url}: ${JSON.stringify(error)}`);
  }
  assert.equal(response.status, status, `${step}: HTTP status`);
  return data;
}

// The typed problem document of a call that must fail with `status` and `code`.
function expectProblem<D, E extends Problem>(step: string, answer: Answer<D, E>, status: number,
                                             code: ProblemCode): E {
  const { data, error, response } = answer;
  if (error === undefined) {
    throw new Error(`${step}: expected ${status} ${code}, got HTTP ${response.status}: ${JSON.stringify(data)}`);
  }
  assert.equal(response.status, status, `${step}: HTTP status`);
  assert.match(response.headers.get("Content-Type") ?? "", /^application\/problem\+json/, `${step}: media type`);
  assert.equal(error.status, status, `${step}: problem status`);
  assert.equal(error.code, code, `${step}: problem code`);
  return error;
}

const step = (name: string) => console.log(`typed client: ${name}`);
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 12)}`;

// ------------------------------------------------------------------ catalog and customer

step("create a product and a plan");
const product = expectData("create product", await recur.POST("/v1/products", {
  body: { name: "Coffee beans", sku: unique("SKU") },
}), 201);
assert.match(product.id, /^prod_/);
assert.equal(product.object, "product");
assert.equal(product.version, 1);

const plan = expectData("create plan", await recur.POST("/v1/plans", {
  body: {
    name: unique("Monthly beans"), amount: 3000, currency: "usd", interval: "month", interval_count: 1,
    items: [{ product: product.id, quantity: 2 }],
  },
}), 201);
assert.match(plan.id, /^plan_/);
assert.equal(plan.object, "plan");
assert.equal(plan.version, 1);

step("create a customer and attach a card");
const customer = expectData("create customer", await recur.POST("/v1/customers", {
  body: {
    email: `${randomUUID().slice(0, 10)}@example.com`, name: "Ada Lovelace",
    shipping_address: { line1: "1 Main St", city: "Springfield", postal_code: "12345", country: "US" },
  },
}), 201);
assert.match(customer.id, /^cus_/);
assert.equal(customer.object, "customer");
assert.equal(customer.default_payment_method, null);

// The sandbox gateway takes Stripe's test payment method ids as tokens.
const card = expectData("attach card", await recur.POST("/v1/customers/{id}/payment-methods", {
  params: { path: { id: customer.id } },
  body: { token: "pm_card_visa" },
}), 201);
assert.equal(card.object, "payment_method");
assert.equal(card.customer, customer.id);
const withCard = expectData("read customer", await recur.GET("/v1/customers/{id}", {
  params: { path: { id: customer.id } },
}), 200);
assert.equal(withCard.default_payment_method, card.id);

// ------------------------------------------------------------------ a subscription

step("subscribe (and replay the request with its Idempotency-Key)");
const idempotencyKey = randomUUID();
const subscribe = () => recur.POST("/v1/subscriptions", {
  params: { header: { "Idempotency-Key": idempotencyKey } },
  body: { customer: customer.id, plan: plan.id, quantity: 2 },
});
const first = await subscribe();
const subscription = expectData("create subscription", first, 201);
assert.match(subscription.id, /^sub_/);
assert.equal(subscription.object, "subscription");
assert.equal(subscription.status, "active");
assert.equal(subscription.customer, customer.id);
assert.equal(subscription.plan, plan.id);
assert.equal(subscription.quantity, 2);
// Created incomplete (version 1), then activated by its first payment, taken in the request.
assert.equal(subscription.version, 2);
assert.equal(first.response.headers.get("ETag"), '"2"');
const replay = await subscribe();
assert.equal(expectData("replay subscription", replay, 201).id, subscription.id);
assert.equal(replay.response.headers.get("Idempotent-Replayed"), "true");

step("read it back");
const read = expectData("read subscription", await recur.GET("/v1/subscriptions/{id}", {
  params: { path: { id: subscription.id } },
}), 200);
assert.deepEqual([read.id, read.status, read.version, read.quantity], [subscription.id, "active", 2, 2]);

step("pause and resume with its version; a stale version is refused");
const paused = expectData("pause", await recur.POST("/v1/subscriptions/{id}/pause", {
  params: { path: { id: subscription.id } },
  body: { version: read.version },
}), 200);
assert.equal(paused.status, "paused");
assert.equal(paused.version, 3);
assert.notEqual(paused.pause, null);
const resumed = expectData("resume", await recur.POST("/v1/subscriptions/{id}/resume", {
  params: { path: { id: subscription.id } },
  body: { version: paused.version },
}), 200);
assert.deepEqual([resumed.status, resumed.version, resumed.pause], ["active", 4, null]);
const stale = expectProblem("pause with a stale version", await recur.POST("/v1/subscriptions/{id}/pause", {
  params: { path: { id: subscription.id } },
  body: { version: paused.version },
}), 409, "version_conflict");
assert.equal(stale.current_version, 4);

step("read its history: who changed what, the object after and what it was before");
const history = expectData("history", await recur.GET("/v1/subscriptions/{id}/history", {
  params: { path: { id: subscription.id } },
}), 200);
const changes = history.data.filter((e) => e.actor.type === "api_key");
assert.deepEqual(changes.map((e) => [e.type, e.resource.id, e.data.previous_attributes?.["status"],
                                    e.data.object?.["status"]]), [
  ["subscription.created", subscription.id, undefined, "incomplete"],  // activated by the system next
  ["subscription.paused", subscription.id, "active", "paused"],
  ["subscription.resumed", subscription.id, "paused", "active"],
]);

step("a second subscription for the same customer, its first invoice left for the client to pay");
const second = expectData("create second subscription", await recur.POST("/v1/subscriptions", {
  body: { customer: customer.id, plan: plan.id, payment_behavior: "default_incomplete" },
}), 201);
assert.deepEqual([second.status, second.quantity, second.version], ["incomplete", 1, 1]);

// ------------------------------------------------------------------ lists, page by page

// The ids on a page, typed through the schema itself rather than through openapi-fetch's
// wrapper (which hid the untyped list envelope the spec once had).
const ids = (page: components["schemas"]["SubscriptionList"]) => page.data.map((s) => s.id);

step("list the customer's subscriptions a page at a time");
const subsPage1 = expectData("subscriptions page 1", await recur.GET("/v1/subscriptions", {
  params: { query: { customer: customer.id, status: ["active", "incomplete"], limit: 1 } },
}), 200);
assert.equal(subsPage1.object, "list");
assert.equal(subsPage1.url, "/v1/subscriptions");
assert.equal(subsPage1.has_more, true);
assert.deepEqual(ids(subsPage1), [second.id]); // newest first
const subsPage2 = expectData("subscriptions page 2", await recur.GET("/v1/subscriptions", {
  params: { query: { customer: customer.id, status: ["active", "incomplete"], limit: 1, starting_after: second.id } },
}), 200);
assert.equal(subsPage2.has_more, false);
assert.deepEqual(subsPage2.data.map((s) => [s.id, s.status, s.quantity]), [[subscription.id, "active", 2]]);
const subsBefore = expectData("subscriptions before the first", await recur.GET("/v1/subscriptions", {
  params: { query: { customer: customer.id, ending_before: subscription.id } },
}), 200);
assert.deepEqual(ids(subsBefore), [second.id]);
const noneCanceled = expectData("canceled subscriptions", await recur.GET("/v1/subscriptions", {
  params: { query: { customer: customer.id, status: ["canceled"] } },
}), 200);
assert.deepEqual([noneCanceled.data.length, noneCanceled.has_more], [0, false]);

step("list the customer's invoices a page at a time, then pay one");
// Each subscription's first period was invoiced when it started: plan amount × quantity.
type Invoice = components["schemas"]["Invoice"];
const invoices: Invoice[] = [];
let after: string | undefined;
for (let page = 1; ; page++) {
  assert.ok(page <= 3, "invoice pages never end");
  const list = expectData(`invoices page ${page}`, await recur.GET("/v1/invoices", {
    params: { query: after === undefined ? { customer: customer.id, limit: 1 }
                                         : { customer: customer.id, limit: 1, starting_after: after } },
  }), 200);
  assert.equal(list.object, "list");
  assert.equal(list.data.length, 1);
  invoices.push(...list.data);
  if (!list.has_more) break;
  after = list.data.at(-1)?.id;
}
assert.deepEqual(invoices.map((i) => [i.object, i.subscription, i.customer, i.status, i.total, i.amount_due]), [
  ["invoice", second.id, customer.id, "open", 3000, 3000],
  ["invoice", subscription.id, customer.id, "paid", 6000, 0],  // charged at signup
]);
const [openInvoice] = invoices;
assert.ok(openInvoice !== undefined);
const openOnly = expectData("open invoices", await recur.GET("/v1/invoices", {
  params: { query: { customer: customer.id, status: ["open"] } },
}), 200);
assert.deepEqual(openOnly.data.map((i) => i.id), [openInvoice.id]);
const paid = expectData("pay invoice", await recur.POST("/v1/invoices/{id}/pay", {
  params: { path: { id: openInvoice.id } },
  body: {},
}), 200);
assert.deepEqual([paid.id, paid.status, paid.total, paid.amount_due, paid.amount_paid],
                 [openInvoice.id, "paid", 3000, 0, 3000]);
expectProblem("pay a paid invoice", await recur.POST("/v1/invoices/{id}/pay", {
  params: { path: { id: openInvoice.id } },
}), 409, "invoice_not_open");
const activated = expectData("read the second subscription", await recur.GET("/v1/subscriptions/{id}", {
  params: { path: { id: second.id } },
}), 200);
assert.equal(activated.status, "active");  // its first invoice paid

// ------------------------------------------------------------------ problems

step("a validation error names the field");
const invalid = expectProblem("quantity 0", await recur.POST("/v1/subscriptions", {
  body: { customer: customer.id, plan: plan.id, quantity: 0 },
}), 422, "validation_failed");
assert.deepEqual(invalid.errors?.map((e) => e.field), ["quantity"]);

step("an unknown subscription is a 404");
expectProblem("unknown subscription", await recur.GET("/v1/subscriptions/{id}", {
  params: { path: { id: "sub_00000000000000000000000000" } },
}), 404, "subscription_not_found");

// What the types refuse, never run: each line fails to compile once the spec stops saying so.
if (false as boolean) {
  // @ts-expect-error: a subscription status is one of the enum.
  await recur.GET("/v1/subscriptions", { params: { query: { status: ["bogus"] } } });
  // @ts-expect-error: a problem code is one of the enum.
  expectProblem("typo", await recur.GET("/v1/plans/{id}", { params: { path: { id: "plan_x" } } }), 404, "plan_missing");
  // @ts-expect-error: the path needs its id.
  await recur.GET("/v1/subscriptions/{id}", {});
  // @ts-expect-error: a time is a string (RFC 3339 or a date), not a number.
  await recur.POST("/v1/subscriptions/{id}/pause", { params: { path: { id: "sub_x" } }, body: { resumes_at: 1 } });
  // @ts-expect-error: a subscription needs its plan.
  await recur.POST("/v1/subscriptions", { body: { customer: "cus_x" } });
}

step("passed");
