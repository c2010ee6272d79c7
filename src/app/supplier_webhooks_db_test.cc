// Supplier webhooks against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE): a
// supplier's webhook_url is an endpoint of its own that follows the URL, receives only its own
// supplier's sent purchase orders (signed like any delivery), cannot be repointed or deleted
// through the endpoints API, and passes the SSRF guard. Purchasing and webhooks are wired as
// App wires them, with a fake receiver and resolver.
#include <gtest/gtest.h>

#include <mutex>

#include "inventory/purchasing.h"
#include "testing/fixtures.h"
#include "webhooks/service.h"

namespace recur::app {
namespace {

using inventory::PurchaseOrder;
using inventory::Supplier;
using inventory::SupplierInput;
using inventory::SupplierPatch;
using testing::at;
using testing::TestApp;
using webhooks::Endpoint;
using webhooks::EndpointPatch;

struct Receiver {
  std::mutex mu;
  std::vector<net::HttpRequest> received;
  Result<net::HttpResponse> operator()(const net::HttpRequest& request) {
    std::lock_guard lock(mu);
    received.push_back(request);
    return net::HttpResponse{204, {}, ""};
  }
  std::vector<net::HttpRequest> to(const std::string& url) {
    std::vector<net::HttpRequest> out;
    for (const auto& r : received)
      if (r.url == url) out.push_back(r);
    return out;
  }
  static std::string header(const net::HttpRequest& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }
};

class SupplierWebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-02T00:00:00Z"));
    int n = 0;
    webhooks = std::make_unique<webhooks::WebhookService>(
        t.app->database(), *t.clock, t.app->ids(), webhooks::WebhookOptions{},
        [this](const net::HttpRequest& r) { return receiver(r); },
        [n](std::size_t size) mutable { return std::string(size, static_cast<char>('a' + n++)); },
        [](const std::string& host) -> Result<std::vector<std::string>> {
          if (host == "intranet.example") return std::vector<std::string>{"10.0.0.7"};
          return std::vector<std::string>{"93.184.216.34"};
        });
    purchasing = std::make_unique<inventory::PurchasingService>(t.app->database(), t.app->clock(), t.app->ids(),
                                                                t.app->notifications());
    purchasing->set_supplier_webhook_sync([this](db::Tx& tx, const std::string& supplier, const std::string& name,
                                                 const std::optional<std::string>& url) {
      return webhooks->sync_supplier_endpoint(tx, webhooks::SupplierWebhook{supplier, name, url});
    });
    catalog::ProductInput in;
    in.name = "Coffee beans";
    in.sku = "BEANS";
    in.track_inventory = true;
    auto p = t.app->catalog().create_product(in, t.actor);
    ASSERT_TRUE(p.ok()) << p.error().message;
    product = p->id;
  }

  Result<Supplier> create(const std::string& name, std::optional<std::string> url) {
    SupplierInput in;
    in.name = name;
    in.email = "orders@" + name + ".example";
    in.webhook_url = std::move(url);
    in.products.push_back({product, 450, "usd"});
    return purchasing->create_supplier(in, t.actor);
  }
  Supplier supplier(const std::string& name, std::optional<std::string> url) {
    auto s = create(name, std::move(url));
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? *s : Supplier{};
  }
  Result<Supplier> patch_url(const Supplier& s, std::optional<std::string> url) {
    SupplierPatch patch;
    patch.webhook_url = std::move(url);
    return purchasing->update_supplier(s.id, patch, s.version, t.actor);
  }
  PurchaseOrder send_order(const std::string& supplier_id) {
    auto o = purchasing->create_purchase_order({supplier_id, {{product, 12, std::nullopt}}, Json::object()}, t.actor);
    EXPECT_TRUE(o.ok()) << (o.ok() ? "" : o.error().message);
    auto sent = purchasing->send_purchase_order(o->id, t.actor);
    EXPECT_TRUE(sent.ok()) << (sent.ok() ? "" : sent.error().message);
    return *sent;
  }
  Endpoint merchant_endpoint(std::vector<std::string> events, std::string url) {
    auto e = webhooks->create({std::move(url), std::move(events), std::nullopt, Json::object()});
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    return *e;
  }
  std::vector<webhooks::Delivery> deliveries_of(const std::string& endpoint_id) {
    auto page = webhooks->deliveries(webhooks::DeliveryFilter{endpoint_id, {}, ListParams{}});
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    return page.ok() ? page->items : std::vector<webhooks::Delivery>{};
  }
  void run() {
    auto report = webhooks->run();
    ASSERT_TRUE(report.ok()) << report.error().message;
  }

  TestApp t;
  Receiver receiver;
  std::unique_ptr<webhooks::WebhookService> webhooks;
  std::unique_ptr<inventory::PurchasingService> purchasing;
  std::string product;
};

TEST_F(SupplierWebhooksTest, ASuppliersWebhookUrlIsAnEndpointOfItsOwnThatFollowsTheUrl) {
  Supplier s = supplier("acme", "https://acme.example/hooks/po");
  ASSERT_TRUE(s.webhook_endpoint);
  auto e = webhooks->get(*s.webhook_endpoint);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->supplier_id, s.id);
  EXPECT_EQ(e->url, "https://acme.example/hooks/po");
  EXPECT_EQ(e->enabled_events, std::vector<std::string>{"purchase_order.sent"});
  EXPECT_EQ(e->status, "enabled");
  ASSERT_TRUE(e->description);
  EXPECT_NE(e->description->find("acme"), std::string::npos);
  EXPECT_EQ(inventory::to_json(s).at("webhook_endpoint"), *s.webhook_endpoint);

  // A new URL moves the same endpoint (its secret stays).
  auto moved = patch_url(s, "https://acme.example/v2/po");
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->webhook_endpoint, s.webhook_endpoint);
  auto after = webhooks->get(*s.webhook_endpoint);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->url, "https://acme.example/v2/po");
  EXPECT_EQ(after->secret, e->secret);
  EXPECT_EQ(after->version, e->version + 1);

  // A new name is in the description.
  SupplierPatch rename;
  rename.name = "Acme Roasters";
  auto renamed = purchasing->update_supplier(s.id, rename, moved->version, t.actor);
  ASSERT_TRUE(renamed.ok()) << renamed.error().message;
  EXPECT_NE(webhooks->get(*s.webhook_endpoint)->description->find("Acme Roasters"), std::string::npos);

  // Cleared: the endpoint is deleted; a URL again makes a new one.
  auto cleared = patch_url(*renamed, std::nullopt);
  ASSERT_TRUE(cleared.ok()) << cleared.error().message;
  EXPECT_EQ(cleared->webhook_endpoint, std::nullopt);
  EXPECT_EQ(inventory::to_json(*cleared).at("webhook_endpoint"), nullptr);
  auto gone = webhooks->get(*s.webhook_endpoint);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, "webhook_endpoint_not_found");
  auto again = patch_url(*cleared, "https://acme.example/v3/po");
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_TRUE(again->webhook_endpoint);
  EXPECT_NE(*again->webhook_endpoint, *s.webhook_endpoint);

  // A supplier without a URL has no endpoint.
  EXPECT_EQ(supplier("plain", std::nullopt).webhook_endpoint, std::nullopt);
}

TEST_F(SupplierWebhooksTest, ASentOrderGoesToItsSuppliersEndpointOnlyAndToMerchantEndpointsThatWantIt) {
  Supplier acme = supplier("acme", "https://acme.example/po");
  Supplier other = supplier("other", "https://other.example/po");
  Endpoint everything = merchant_endpoint({"*"}, "https://merchant.example/all");
  Endpoint customers = merchant_endpoint({"customer.*"}, "https://merchant.example/customers");
  PurchaseOrder order = send_order(acme.id);
  run();

  auto to_acme = deliveries_of(*acme.webhook_endpoint);
  ASSERT_EQ(to_acme.size(), 1u);
  EXPECT_EQ(to_acme[0].event_type, "purchase_order.sent");
  EXPECT_EQ(to_acme[0].status, "succeeded");
  EXPECT_TRUE(deliveries_of(*other.webhook_endpoint).empty());
  EXPECT_TRUE(deliveries_of(customers.id).empty());
  int sent_to_merchant = 0;
  for (const auto& d : deliveries_of(everything.id)) sent_to_merchant += d.event_type == "purchase_order.sent";
  EXPECT_EQ(sent_to_merchant, 1);

  // Signed with the supplier endpoint's own secret; the body is the event with the order.
  auto requests = receiver.to("https://acme.example/po");
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  auto secret = webhooks->get(*acme.webhook_endpoint)->secret;
  EXPECT_EQ(Receiver::header(r, "webhook-signature"),
            webhooks::sign(secret, to_acme[0].event_id, std::stoll(Receiver::header(r, "webhook-timestamp")), r.body));
  Json body = Json::parse(r.body);
  EXPECT_EQ(body.at("type"), "purchase_order.sent");
  EXPECT_EQ(body.at("data").at("object").at("id"), order.id);
  EXPECT_EQ(body.at("data").at("object").at("supplier"), acme.id);
  EXPECT_TRUE(receiver.to("https://other.example/po").empty());

  // The other supplier's order goes to the other supplier only.
  send_order(other.id);
  run();
  EXPECT_EQ(deliveries_of(*acme.webhook_endpoint).size(), 1u);
  EXPECT_EQ(deliveries_of(*other.webhook_endpoint).size(), 1u);

  // A replay of the supplier's endpoint replays only its own orders.
  auto replayed = webhooks->replay(*acme.webhook_endpoint, webhooks::ReplayRequest{0, std::nullopt, std::nullopt});
  ASSERT_TRUE(replayed.ok()) << replayed.error().message;
  EXPECT_EQ(replayed->deliveries, 1);
}

TEST_F(SupplierWebhooksTest, ASupplierEndpointIsRepointedOnlyThroughItsSupplier) {
  Supplier s = supplier("acme", "https://acme.example/po");
  std::string id = *s.webhook_endpoint;
  auto e = webhooks->get(id);
  ASSERT_TRUE(e.ok());

  EndpointPatch url;
  url.url = "https://evil.example/po";
  auto refused = webhooks->update(id, url, e->version);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(refused.error().code, "supplier_endpoint");
  EXPECT_NE(refused.error().message.find("webhook_url"), std::string::npos);
  EndpointPatch events;
  events.enabled_events = std::vector<std::string>{"*"};
  auto wider = webhooks->update(id, events, e->version);
  ASSERT_FALSE(wider.ok());
  EXPECT_EQ(wider.error().code, "supplier_endpoint");
  auto removed = webhooks->remove(id);
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code, "supplier_endpoint");
  // A resend cannot hand the supplier another of the merchant's events.
  auto created = db::transact(t.app->database(), [](db::Tx& tx) {
    return tx.query("SELECT id FROM events WHERE type = 'supplier.created'");
  }, db::TxMode::kReadOnly);
  ASSERT_TRUE(created.ok() && !created->empty());
  auto leaked = webhooks->resend((*created)[0].text(0), id);
  ASSERT_FALSE(leaked.ok());
  EXPECT_EQ(leaked.error().code, "supplier_endpoint");
  EXPECT_EQ(webhooks->get(id)->url, "https://acme.example/po");

  // Its status, description and metadata, and its secret, are the merchant's to manage.
  EndpointPatch off;
  off.status = "disabled";
  off.description = std::optional<std::string>("paused while Acme moves");
  off.metadata = Json{{"team", "buying"}};
  auto disabled = webhooks->update(id, off, e->version);
  ASSERT_TRUE(disabled.ok()) << disabled.error().message;
  EXPECT_EQ(disabled->status, "disabled");
  auto rotated = webhooks->rotate_secret(id);
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  EXPECT_NE(rotated->secret, e->secret);
  // A disabled supplier endpoint gets no new deliveries, like any other.
  send_order(s.id);
  run();
  EXPECT_TRUE(deliveries_of(id).empty());
}

TEST_F(SupplierWebhooksTest, ASupplierWebhookUrlOnAPrivateAddressIsRefusedAndNothingChanges) {
  auto refused = create("acme", "http://intranet.example/po");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "validation_failed");
  ASSERT_EQ(refused.error().fields.size(), 1u);
  EXPECT_EQ(refused.error().fields[0].field, "webhook_url");
  EXPECT_EQ(refused.error().fields[0].code, "private_address");
  auto listed = purchasing->list_suppliers({});
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->items.empty());
  auto endpoints = webhooks->list(ListParams{});
  ASSERT_TRUE(endpoints.ok());
  EXPECT_TRUE(endpoints->items.empty());

  Supplier s = supplier("acme", "https://acme.example/po");
  auto moved = patch_url(s, "http://intranet.example/po");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().fields.at(0).field, "webhook_url");
  EXPECT_EQ(moved.error().fields.at(0).code, "private_address");
  EXPECT_EQ(webhooks->get(*s.webhook_endpoint)->url, "https://acme.example/po");
  EXPECT_EQ(purchasing->get_supplier(s.id)->webhook_url, "https://acme.example/po");
  auto credentials = patch_url(s, "https://user:secret@acme.example/po");
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.error().fields.at(0).code, "invalid_url");
}

}  // namespace
}  // namespace recur::app
