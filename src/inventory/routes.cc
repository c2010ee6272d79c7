// Inventory routes: parse and validate, call the service, render.
#include "inventory/routes.h"

#include "access/actor.h"
#include "access/model.h"
#include "platform/http/rest.h"

namespace recur::inventory {
namespace {

using http::Request;
using http::Response;

Response stock_response(const Request& req, const Result<StockView>& v, int status) {
  if (!v.ok()) return http::error_response(req, v.error());
  return http::json_response(status, to_json(*v));
}

Error invalid_param(const std::string& name, const std::string& message) {
  return Error::invalid("validation_failed", message, {{name, "invalid_value", message}});
}

// ?quantity=1..10^9 (default 1) and ?date= (RFC 3339, or a day: 2027-01-31 = its start, UTC).
Result<std::pair<std::int64_t, std::optional<Timestamp>>> availability_query(const Request& req) {
  RECUR_TRY(http::check_query(req, {"quantity", "date"}));
  std::int64_t quantity = 1;
  if (auto q = req.query_param("quantity")) {
    char* end = nullptr;
    long long n = std::strtoll(q->c_str(), &end, 10);
    if (q->empty() || *end != '\0' || n < 1 || n > kMaxUnits)
      return invalid_param("quantity", "quantity must be a whole number from 1 to 1000000000");
    quantity = n;
  }
  std::optional<Timestamp> date;
  if (auto d = req.query_param("date")) {
    RECUR_ASSIGN(Timestamp t, parse_time_input("date", *d));  // the bodies' rule: before 3000
    date = t;
  }
  return std::make_pair(quantity, date);
}

struct Units {
  std::int64_t quantity = 0;
  std::optional<std::string> reference;
};

// {"quantity": N, "<reference_field>"?: "..."}
Result<Units> parse_units(const Request& req, const char* reference_field) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  auto quantity = f.integer("quantity", true, 1, kMaxUnits);
  auto reference = f.text(reference_field, false, 64);
  RECUR_TRY(f.finish());
  return Units{*quantity, reference};
}

Result<ChoiceInput> parse_choice(const Request& req) {
  RECUR_ASSIGN(Json body, parse_json_object(req.body));
  FieldReader f(body);
  ChoiceInput in;
  auto choice = f.one_of("choice", true, {"wait", "swap", "skip", "cancel_item"});
  in.item = f.text("item", false, 64);
  in.swap_to = f.text("swap_to", false, 64);
  if (choice) {
    in.choice = *parse_backorder_choice(*choice);
    bool needs_item = in.choice == BackorderChoice::kSwap || in.choice == BackorderChoice::kCancelItem;
    if (needs_item && !in.item) f.fail("item", "required", "the backordered item's product id or SKU");
    if (!needs_item && in.item) f.fail("item", "not_allowed", "only swap and cancel_item name an item");
    if (in.choice == BackorderChoice::kSwap && !in.swap_to)
      f.fail("swap_to", "required", "the product to ship instead: its id or SKU");
    if (in.choice != BackorderChoice::kSwap && in.swap_to) f.fail("swap_to", "not_allowed", "only swap names swap_to");
  }
  RECUR_TRY(f.finish());
  return in;
}

// GET /v1/shipments: the page, and the shipments' own filters.
Result<ShipmentFilter> shipment_filter(const Request& req) {
  RECUR_ASSIGN(auto page, http::page_request(req, {"subscription", "customer", "status", "tracking_number", "invoice",
                                                   "paid", "created", "metadata"}));
  RECUR_ASSIGN(auto statuses, http::enum_list(req, "status", shipment_status_names()));
  RECUR_ASSIGN(auto paid, http::boolean_param(req, "paid"));
  auto invoice = req.query_param("invoice");
  if (invoice && !invoice->starts_with("in_"))
    return invalid_param("invoice", "invoice takes an invoice's id (in_...), not '" + *invoice + "'");
  return ShipmentFilter{.subscription = req.query_param("subscription"),
                        .customer = req.query_param("customer"),
                        .statuses = std::move(statuses),
                        .tracking_number = req.query_param("tracking_number"),
                        .invoice = std::move(invoice),
                        .paid = paid,
                        .page = std::move(page)};
}

}  // namespace

void add_routes(http::Router& router, InventoryService& inventory) {
  StockLevels& levels = inventory.levels();
  AvailabilityAnswers& answers = inventory.answers();
  Shipments& shipments = inventory.shipments();
  BackorderChoices& choices = inventory.choices();
  using namespace access::perm;
  const std::string read(kInventoryRead), write(kInventoryWrite);

  router.add("GET", "/v1/inventory", read, [&levels](Request& req) {
    auto page = http::page_request(req, {"low_stock"});
    if (!page.ok()) return http::error_response(req, page.error());
    auto low = http::boolean_param(req, "low_stock");
    if (!low.ok()) return http::error_response(req, low.error());
    return http::list_response(req, levels.list_stock(low->value_or(false), *page), "/v1/inventory",
                         [](const StockView& v) { return to_json(v); });
  });
  router.add("GET", "/v1/inventory/{sku}", read, [&levels](Request& req) {
    return stock_response(req, levels.stock(req.path_params["sku"]), 200);
  });
  router.add("PATCH", "/v1/inventory/{sku}", write, [&levels](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    StockSettingsPatch patch;
    patch.low_stock_threshold = f.count_or_null("low_stock_threshold", kMaxUnits, "no low-stock alerts");
    if (f.is_null("alert_email")) patch.alert_email = std::optional<std::string>();
    else if (auto e = f.email("alert_email", false)) patch.alert_email = e;
    f.accept("alert_email");
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    return stock_response(req, levels.update_settings(req.path_params["sku"], patch, access::actor_of(req)), 200);
  });
  router.add("GET", "/v1/inventory/{sku}/movements", read, [&levels](Request& req) {
    auto page = http::page_request(req, {"kind", "created"});
    if (!page.ok()) return http::error_response(req, page.error());
    auto kinds = http::enum_list(req, "kind", movement_kind_names());
    if (!kinds.ok()) return http::error_response(req, kinds.error());
    auto sku = req.path_params["sku"];
    return http::list_response(req, levels.movements(sku, *kinds, *page),
                         "/v1/inventory/" + sku + "/movements", [sku](const Movement& m) { return to_json(m, sku); });
  });
  router.add("POST", "/v1/inventory/{sku}/adjustments", write, [&levels](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    auto delta = f.integer("quantity_delta", true, -kMaxUnits, kMaxUnits);
    auto reason = f.text("reason", true, 200);
    if (delta && *delta == 0) f.fail("quantity_delta", "out_of_range", "an adjustment changes stock: not 0");
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    return stock_response(req, levels.adjust(req.path_params["sku"], *delta, *reason, access::actor_of(req)), 201);
  });
  router.add("POST", "/v1/inventory/{sku}/receipts", write, [&levels](Request& req) {
    auto units = parse_units(req, "purchase_order");
    if (!units.ok()) return http::error_response(req, units.error());
    return stock_response(req, levels.receive(req.path_params["sku"], units->quantity, units->reference,
                                           access::actor_of(req)), 201);
  });
  router.add("POST", "/v1/inventory/{sku}/returns", write, [&levels](Request& req) {
    auto units = parse_units(req, "shipment");
    if (!units.ok()) return http::error_response(req, units.error());
    return stock_response(req, levels.record_return(req.path_params["sku"], units->quantity, units->reference,
                                                 access::actor_of(req)), 201);
  });

  // Shops ask before offering a product: anyone who may read the catalogue may ask.
  router.add("GET", "/v1/products/{id}/availability", std::string(kCatalogRead), [&answers](Request& req) {
    auto query = availability_query(req);
    if (!query.ok()) return http::error_response(req, query.error());
    auto answer = answers.availability(req.path_params["id"], query->first, query->second);
    if (!answer.ok()) return http::error_response(req, answer.error());
    return http::json_response(200, to_json(*answer));
  });

  const std::string ship_read(kShipmentsRead), ship_write(kShipmentsWrite);
  auto render = [](const Shipment& s) { return to_json(s); };
  router.add("GET", "/v1/shipments", ship_read, [&shipments, render](Request& req) {
    auto query = shipment_filter(req);
    if (!query.ok()) return http::error_response(req, query.error());
    return http::list_response(req, shipments.list_shipments(*query), "/v1/shipments", render);
  });
  router.add("GET", "/v1/shipments/{id}", ship_read, [&shipments, render](Request& req) {
    return http::respond(req, shipments.shipment(req.path_params["id"]), 200, render);
  });
  router.add("PATCH", "/v1/shipments/{id}", ship_write, [&shipments, render](Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    auto version = http::expected_version(req, *body, false);
    if (!version.ok()) return http::error_response(req, version.error());
    FieldReader f(*body);
    auto status = f.one_of("status", true, {"ready", "shipped", "delivered", "canceled"});
    auto tracking = f.text("tracking_number", false, 100);
    if (auto st = f.finish(); !st.ok()) return http::error_response(req, st.error());
    return http::respond(req, shipments.move_shipment(req.path_params["id"], *parse_shipment_status(*status), tracking,
                                                *version, access::actor_of(req)),
                         200, render);
  });
  router.add("POST", "/v1/shipments/{id}/backorder-choice", ship_write, [&choices, render](Request& req) {
    auto input = parse_choice(req);
    if (!input.ok()) return http::error_response(req, input.error());
    return http::respond(req, choices.choose(req.path_params["id"], *input, access::actor_of(req)), 200, render);
  });
  for (const char* path : {"/v1/inventory", "/v1/inventory/{sku}/movements", "/v1/products/{id}/availability",
                           "/v1/shipments"})
    router.reads_query("GET", path);
}

}  // namespace recur::inventory
