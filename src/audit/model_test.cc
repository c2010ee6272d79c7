// The audit log's pure rules: canonical form, hash chain, changed field names.
#include "audit/model.h"

#include <gtest/gtest.h>

#include "platform/digest.h"

namespace recur::audit {
namespace {

Entry sample(std::int64_t seq) {
  Entry e;
  e.id = "aud_0" + std::to_string(seq);
  e.created = 1767225600 + seq;
  e.actor_type = "api_key";
  e.actor_id = "key_1";
  e.actor_role = "admin";
  e.request_id = "req_1";
  e.source_ip = "203.0.113.7";
  e.resource_type = "customer";
  e.resource_id = "cus_1";
  e.action = "customer.updated";
  e.fields = {"email", "name"};
  e.event_id = "evt_1";
  e.seq = seq;
  return e;
}

// A chain of n entries as the chainer builds it.
std::vector<Entry> chain_of(int n) {
  std::vector<Entry> out;
  std::string prev = kGenesisHash;
  for (int i = 1; i <= n; ++i) {
    Entry e = sample(i);
    e.prev_hash = prev;
    e.hash = chain_hash(prev, e);
    prev = e.hash;
    out.push_back(e);
  }
  return out;
}

TEST(AuditCanonical, IsSortedCompactJsonOfEveryFieldButTheHashes) {
  Entry e = sample(3);
  EXPECT_EQ(canonical(e),
            R"({"action":"customer.updated","actor":{"id":"key_1","role":"admin","type":"api_key"},"created":1767225603,)"
            R"("event_id":"evt_1","fields":["email","name"],"id":"aud_03","reason":"","request_id":"req_1",)"
            R"("resource":{"id":"cus_1","type":"customer"},"seq":3,"source_ip":"203.0.113.7"})");
  // The hashes are not part of what they cover.
  Entry hashed = e;
  hashed.prev_hash = "ab";
  hashed.hash = "cd";
  EXPECT_EQ(canonical(hashed), canonical(e));
}

TEST(AuditCanonical, EveryFieldChangesIt) {
  const Entry base = sample(1);
  struct Case {
    const char* name;
    void (*edit)(Entry&);
  };
  const Case cases[] = {
      {"id", [](Entry& e) { e.id = "aud_x"; }},
      {"seq", [](Entry& e) { e.seq = 2; }},
      {"created", [](Entry& e) { e.created += 1; }},
      {"actor type", [](Entry& e) { e.actor_type = "cli"; }},
      {"actor id", [](Entry& e) { e.actor_id = "key_2"; }},
      {"actor role", [](Entry& e) { e.actor_role = "support"; }},
      {"request id", [](Entry& e) { e.request_id = "req_2"; }},
      {"source ip", [](Entry& e) { e.source_ip = "198.51.100.1"; }},
      {"resource type", [](Entry& e) { e.resource_type = "plan"; }},
      {"resource id", [](Entry& e) { e.resource_id = "cus_2"; }},
      {"action", [](Entry& e) { e.action = "customer.created"; }},
      {"fields", [](Entry& e) { e.fields.pop_back(); }},
      {"event id", [](Entry& e) { e.event_id = "evt_2"; }},
      {"reason", [](Entry& e) { e.reason = "asked"; }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Entry edited = base;
    c.edit(edited);
    EXPECT_NE(canonical(edited), canonical(base));
    EXPECT_NE(chain_hash(kGenesisHash, edited), chain_hash(kGenesisHash, base));
  }
}

TEST(AuditChain, HashIsSha256OfThePreviousHashThenTheCanonicalEntry) {
  Entry e = sample(1);
  EXPECT_EQ(chain_hash(kGenesisHash, e), sha256_hex(kGenesisHash + canonical(e)));
  EXPECT_EQ(chain_hash(kGenesisHash, e).size(), 64u);
  EXPECT_NE(chain_hash(std::string(64, '1'), e), chain_hash(kGenesisHash, e));
}

TEST(AuditChain, FirstBreakFindsTheFirstEntryThatDoesNotHold) {
  struct Case {
    const char* name;
    void (*tamper)(std::vector<Entry>&);
    std::optional<std::size_t> broken;
  };
  const Case cases[] = {
      {"an intact chain", [](std::vector<Entry>&) {}, std::nullopt},
      {"a field edited in the third entry", [](std::vector<Entry>& c) { c[2].fields = {"email"}; }, 2},
      {"a field edited and its hash recomputed: the next entry's link breaks",
       [](std::vector<Entry>& c) {
         c[1].actor_id = "key_evil";
         c[1].hash = chain_hash(c[1].prev_hash, c[1]);
       },
       2},
      {"an entry removed from the middle", [](std::vector<Entry>& c) { c.erase(c.begin() + 1); }, 1},
      {"two entries swapped", [](std::vector<Entry>& c) { std::swap(c[0], c[1]); }, 0},
      {"an entry's seq cleared", [](std::vector<Entry>& c) { c[3].seq.reset(); }, 3},
      {"the first entry not chained from genesis",
       [](std::vector<Entry>& c) {
         c[0].prev_hash = std::string(64, 'f');
         c[0].hash = chain_hash(c[0].prev_hash, c[0]);
       },
       0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto entries = chain_of(5);
    c.tamper(entries);
    auto broken = first_break(entries, kGenesisHash, 0);
    ASSERT_EQ(broken.has_value(), c.broken.has_value());
    if (broken) {
      EXPECT_EQ(broken->index, *c.broken) << broken->reason;
    }
  }
}

TEST(AuditChain, AWalkMayStartInTheMiddle) {
  auto entries = chain_of(6);
  std::vector<Entry> tail(entries.begin() + 3, entries.end());
  EXPECT_FALSE(first_break(tail, entries[2].hash, 3));
  EXPECT_TRUE(first_break(tail, entries[1].hash, 3));
}

TEST(AuditFields, NamesWhatChangedNeverItsValue) {
  struct Case {
    const char* name;
    Json before, after;
    std::vector<std::string> expected;
  };
  const Case cases[] = {
      {"nothing changed", {{"a", 1}}, {{"a", 1}}, {}},
      {"a top-level field", {{"email", "a@x.io"}, {"id", "cus_1"}}, {{"email", "b@x.io"}, {"id", "cus_1"}}, {"email"}},
      {"a nested field, dotted",
       {{"shipping_address", {{"city", "Paris"}, {"line1", "1 rue"}}}},
       {{"shipping_address", {{"city", "Lyon"}, {"line1", "1 rue"}}}},
       {"shipping_address.city"}},
      {"a field that appeared or went", {{"a", 1}, {"b", 2}}, {{"a", 1}, {"c", 3}}, {"b", "c"}},
      {"an object that appeared where null was: one field", {{"a", nullptr}}, {{"a", {{"x", 1}, {"y", 2}}}}, {"a"}},
      {"an array is one field", {{"items", {1, 2}}}, {{"items", {1, 3}}}, {"items"}},
      {"a create names every field of what was made", nullptr, {{"id", "cus_1"}, {"name", "Ada"}, {"address", {{"city", "X"}}}},
       {"address.city", "id", "name"}},
      {"a delete names every field of what went", {{"id", "x"}, {"v", 1}}, nullptr, {"id", "v"}},
      {"neither side an object", nullptr, nullptr, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(changed_fields(c.before, c.after), c.expected);
  }
}

TEST(AuditFields, NoPersonalValueReachesTheEntry) {
  Json before = {{"email", "MKold@example.com"}, {"name", "MKOld Name"}, {"phone", "+4915100000001"}};
  Json after = {{"email", "MKnew@example.com"}, {"name", "MKNew Name"}, {"phone", nullptr}};
  Entry e = sample(1);
  e.fields = changed_fields(before, after);
  EXPECT_EQ(e.fields, (std::vector<std::string>{"email", "name", "phone"}));
  std::string all = canonical(e) + to_json(e).dump();
  EXPECT_EQ(all.find("MK"), std::string::npos);
  EXPECT_EQ(all.find("+4915"), std::string::npos);
}

TEST(AuditActor, ThePaymentUpdatePageIsAKindOfItsOwn) {
  EXPECT_EQ(actor_kind("customer", "payment_update_token"), "payment_update_page");
  EXPECT_EQ(actor_kind("api_key", "admin"), "api_key");
  EXPECT_EQ(actor_kind("cli", "admin"), "cli");
  EXPECT_EQ(actor_kind("system", ""), "system");
}

TEST(AuditJson, TheApiObjectShowsEmptyValuesAsNull) {
  Entry e = sample(1);
  e.request_id.clear();
  e.source_ip.clear();
  e.actor_role.clear();
  e.seq.reset();
  Json j = to_json(e);
  EXPECT_EQ(j["object"], "audit_entry");
  EXPECT_TRUE(j["request_id"].is_null());
  EXPECT_TRUE(j["source_ip"].is_null());
  EXPECT_TRUE(j["actor"]["role"].is_null());
  EXPECT_TRUE(j["seq"].is_null());
  EXPECT_TRUE(j["hash"].is_null());
  EXPECT_EQ(j["fields"], Json({"email", "name"}));
}

}  // namespace
}  // namespace recur::audit
