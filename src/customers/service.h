// Customer use cases and their SQL (a customer is one row: the store is small enough to
// live here, behind the service).
#pragma once

#include <vector>

#include "customers/model.h"
#include "events/store.h"
#include "platform/db/database.h"

namespace recur::customers {

struct CustomerInput {
  std::string email;
  std::string name;
  std::optional<std::string> phone;
  std::optional<Address> shipping_address;
  Json metadata = Json::object();
};

struct CustomerPatch {
  std::optional<std::string> email;
  std::optional<std::string> name;
  std::optional<std::optional<std::string>> phone;
  std::optional<std::optional<Address>> shipping_address;
  std::optional<Json> metadata;
};

struct ListFilter {
  std::optional<std::string> email;
  int limit = 10;
  std::optional<std::string> starting_after;
};

struct Page {
  std::vector<Customer> items;
  bool has_more = false;
};

// Lookup other modules use (subscriptions): read inside the caller's transaction.
Result<std::optional<Customer>> find_customer(db::Tx& tx, const std::string& id);

class CustomerService {
 public:
  CustomerService(db::Database& db, const Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), ids_(ids), events_(ids, clock) {}

  Result<Customer> create(const CustomerInput& input, const events::Actor& actor);
  Result<Customer> update(const std::string& id, const CustomerPatch& patch, std::int64_t expected_version,
                          const events::Actor& actor);
  Result<Customer> get(const std::string& id);
  Result<Page> list(const ListFilter& filter);

 private:
  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
};

}  // namespace recur::customers
