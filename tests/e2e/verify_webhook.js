// Verifies webhook deliveries with the `standardwebhooks` npm package, as a merchant would.
// stdin: a JSON array of {secret, headers: {webhook-id, webhook-timestamp, webhook-signature},
// body, now}; `now` (unix seconds) is the server's clock, since the test-mode server signs
// with its simulated time and the library refuses timestamps 5 minutes off its own.
// stdout: a JSON array of {ok: true} or {ok: false, error}, in the same order.
"use strict";
const { Webhook } = require("standardwebhooks");

function verifyOne({ secret, headers, body, now }) {
  const realNow = Date.now;
  if (typeof now === "number") Date.now = () => now * 1000;
  try {
    new Webhook(secret).verify(body, headers);
    return { ok: true };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e) };
  } finally {
    Date.now = realNow;
  }
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const items = JSON.parse(input);
  process.stdout.write(JSON.stringify(items.map(verifyOne)) + "\n");
});
