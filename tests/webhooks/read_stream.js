// Reads the whole event stream as a JetStream consumer would, with the @nats-io clients.
// Usage: node read_stream.js NATS_URL [STREAM]   (default stream RECUR_EVENTS)
// stdout: a JSON array of {seq, subject, msg_id, id, type, resource_id}, in stream order.
"use strict";
const { connect } = require("@nats-io/transport-node");
const { jetstream, jetstreamManager } = require("@nats-io/jetstream");

async function main() {
  const [url, stream = "RECUR_EVENTS"] = process.argv.slice(2);
  const nc = await connect({ servers: url, timeout: 5000 });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const last = info.state.last_seq;
    const out = [];
    if (info.state.messages > 0) {
      // An ordered consumer: every message once, in stream order, from the first.
      const consumer = await jetstream(nc).consumers.get(stream);
      const messages = await consumer.consume();
      for await (const m of messages) {
        const event = m.json();
        out.push({ seq: m.seq, subject: m.subject, msg_id: m.headers ? m.headers.get("Nats-Msg-Id") : null,
                   id: event.id, type: event.type, resource_id: event.resource.id });
        if (m.seq >= last) break;
      }
      await messages.close();
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    await nc.close();
  }
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
