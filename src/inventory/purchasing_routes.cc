// Purchasing routes: parse and validate, call the service, render. No SQL here.
#include "inventory/purchasing_routes.h"

#include "access/actor.h"
#include "access/model.h"
#include "platform/http/rest.h"

namespace recur::inventory {
namespace {

using http::Request;
using http::Response;

constexpr std::int64_t kMaxCost = 100'000'000'00;

// Each element of the array `name` read as an object by `read_one`; nullopt when absent.
template <typename T, typename ReadOne>
std::optional<std::vector<T>> read_objects(FieldReader& fields, const char* name, bool required, ReadOne read_one) {
  const Json* items = fields.array(name, required, 100);
  if (!items) return std::nullopt;
  if (required && items->empty()) fields.fail(name, "too_short", std::string(name) + " needs at least one item");
  std::vector<T> out;
  for (std::size_t i = 0; i < items->size(); ++i) {
    std::string prefix = std::string(name) + "[" + std::to_string(i) + "]";
    if (!(*items)[i].is_object()) {
      fields.fail(prefix, "invalid_type", prefix + " must be an object");
      continue;
    }
    FieldReader item((*items)[i], prefix);
    auto value = read_one(item);
    fields.absorb(item);
    if (value) out.push_back(std::move(*value));
  }
  return out;
}

std::optional<SuppliedProduct> read_supplied(FieldReader& f) {
  auto product = f.text("product", true, 64);
  auto cost = f.integer("unit_cost", true, 0, kMaxCost);
  auto currency = f.currency("currency", true);
  if (!product || !cost || !currency) return std::nullopt;
  return SuppliedProduct{*product, *cost, *currency};
}

std::optional<std::string> read_webhook_url(FieldReader& f) {
  auto url = f.text("webhook_url", false, 2000);
  if (!url) return std::nullopt;
  bool web = url->starts_with("https://") || url->starts_with("http://");
  if (!web || url->find_first_of(" \t\r\n") != std::string::npos) {
    f.fail("webhook_url", "invalid_value", "an http(s) URL without spaces");
    return std::nullopt;
  }
  return url;
}

Result<SupplierInput> parse_supplier(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  SupplierInput in;
  auto name = f.text("name", true, 200);
  auto email = f.email("email", true);
  in.webhook_url = read_webhook_url(f);
  in.lead_time_days = f.integer("lead_time_days", false, 0, 365).value_or(7);
  in.minimum_order_quantity = f.integer("minimum_order_quantity", false, 1, kMaxUnits).value_or(1);
  in.pack_size = f.integer("pack_size", false, 1, kMaxUnits).value_or(1);
  in.automatic = f.boolean("automatic", false).value_or(false);
  if (auto products = read_objects<SuppliedProduct>(f, "products", false, read_supplied)) in.products = *products;
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.name = *name;
  in.email = *email;
  return in;
}

Result<std::pair<SupplierPatch, std::int64_t>> parse_supplier_patch(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  RECUR_ASSIGN(auto version, http::expected_version(req, body, true));
  FieldReader f(body);
  SupplierPatch patch;
  patch.name = f.text("name", false, 200);
  patch.email = f.email("email", false);
  if (f.is_null("webhook_url")) patch.webhook_url = std::optional<std::string>();
  else if (auto url = read_webhook_url(f)) patch.webhook_url = url;
  f.accept("webhook_url");
  patch.lead_time_days = f.integer("lead_time_days", false, 0, 365);
  patch.minimum_order_quantity = f.integer("minimum_order_quantity", false, 1, kMaxUnits);
  patch.pack_size = f.integer("pack_size", false, 1, kMaxUnits);
  patch.automatic = f.boolean("automatic", false);
  patch.active = f.boolean("active", false);
  patch.products = read_objects<SuppliedProduct>(f, "products", false, read_supplied);
  patch.metadata = f.metadata("metadata");
  RECUR_TRY(f.finish());
  return std::make_pair(std::move(patch), *version);
}

Result<PurchaseOrderInput> parse_purchase_order(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  PurchaseOrderInput in;
  auto supplier = f.text("supplier", true, 64);
  auto lines = read_objects<OrderLineInput>(f, "lines", true, [](FieldReader& line) -> std::optional<OrderLineInput> {
    auto product = line.text("product", true, 64);
    auto quantity = line.integer("quantity", true, 1, kMaxUnits);
    auto cost = line.integer("unit_cost", false, 0, kMaxCost);
    if (!product || !quantity) return std::nullopt;
    return OrderLineInput{*product, *quantity, cost};
  });
  if (auto m = f.metadata("metadata")) in.metadata = *m;
  RECUR_TRY(f.finish());
  in.supplier = *supplier;
  in.lines = std::move(*lines);
  return in;
}

Result<std::vector<ReceiptLine>> parse_receipt(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  auto lines = read_objects<ReceiptLine>(f, "lines", true, [](FieldReader& line) -> std::optional<ReceiptLine> {
    auto product = line.text("product", true, 64);
    auto quantity = line.integer("quantity", true, 1, kMaxUnits);
    if (!product || !quantity) return std::nullopt;
    return ReceiptLine{*product, *quantity};
  });
  RECUR_TRY(f.finish());
  return std::move(*lines);
}

Status empty_body(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  return f.finish();
}

}  // namespace

void add_purchasing_routes(http::Router& router, PurchasingService& svc) {
  using namespace access::perm;
  const std::string read(kInventoryRead), write(kInventoryWrite);
  auto render_supplier = [](const Supplier& s) { return to_json(s); };
  auto render_order = [](const PurchaseOrder& o) { return to_json(o); };

  router.add("POST", "/v1/suppliers", write, [&svc, render_supplier](Request& req) {
    auto input = parse_supplier(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, svc.create_supplier(*input, access::actor_of(req)), 201, render_supplier);
  });
  router.add("GET", "/v1/suppliers", read, [&svc](Request& req) {
    auto page = http::page_request(req, {"product", "created", "metadata"});
    if (!page.ok()) return http::error_response(req, page.error());
    return http::list_response(req, svc.list_suppliers({req.query_param("product"), *page}),
                         "/v1/suppliers");
  });
  router.add("GET", "/v1/suppliers/{id}", read, [&svc, render_supplier](Request& req) {
    return http::respond(req, svc.get_supplier(req.path_params["id"]), 200, render_supplier);
  });
  router.add("PATCH", "/v1/suppliers/{id}", write, [&svc, render_supplier](Request& req) {
    auto patch = parse_supplier_patch(req);
    if (!patch.ok()) return http::error_response(req, patch.error());
    return http::respond(req, svc.update_supplier(req.path_params["id"], patch->first, patch->second,
                                                  access::actor_of(req)),
                         200, render_supplier);
  });

  router.add("POST", "/v1/purchase-orders", write, [&svc, render_order](Request& req) {
    auto input = parse_purchase_order(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, svc.create_purchase_order(*input, access::actor_of(req)), 201, render_order);
  });
  router.add("GET", "/v1/purchase-orders", read, [&svc](Request& req) {
    auto page = http::page_request(req, {"status", "supplier", "created", "metadata"});
    if (!page.ok()) return http::error_response(req, page.error());
    auto statuses = http::enum_list(req, "status", purchase_order_status_names());
    if (!statuses.ok()) return http::error_response(req, statuses.error());
    PurchaseOrderFilter filter{*statuses, req.query_param("supplier"), *page};
    return http::list_response(req, svc.list_purchase_orders(filter), "/v1/purchase-orders");
  });
  router.add("GET", "/v1/purchase-orders/{id}", read, [&svc, render_order](Request& req) {
    return http::respond(req, svc.get_purchase_order(req.path_params["id"]), 200, render_order);
  });
  router.add("POST", "/v1/purchase-orders/{id}/send", write, [&svc, render_order](Request& req) {
    if (auto st = empty_body(req); !st.ok()) return http::error_response(req, st.error());
    return http::respond(req, svc.send_purchase_order(req.path_params["id"], access::actor_of(req)), 200,
                         render_order);
  });
  router.add("POST", "/v1/purchase-orders/{id}/cancel", write, [&svc, render_order](Request& req) {
    if (auto st = empty_body(req); !st.ok()) return http::error_response(req, st.error());
    return http::respond(req, svc.cancel_purchase_order(req.path_params["id"], access::actor_of(req)), 200,
                         render_order);
  });
  router.add("POST", "/v1/purchase-orders/{id}/receive", write, [&svc, render_order](Request& req) {
    auto lines = parse_receipt(req);
    if (!lines.ok()) return http::error_response(req, lines.error());
    return http::respond(req, svc.receive(req.path_params["id"], *lines, access::actor_of(req)), 200, render_order);
  });
  router.reads_query("GET", "/v1/suppliers");
  router.reads_query("GET", "/v1/purchase-orders");
}

}  // namespace recur::inventory
