// What a transaction has read of rows it may read again, kept for the rest of that
// transaction only: a batch of renewals reads the shop's tax settings, a plan, its products
// and a customer's data key once, not once per renewal and per use (issue 20).
#pragma once

#include <string>
#include <unordered_map>
#include <utility>

#include "platform/db/database.h"

namespace recur::db {

// Tag names the rows (one memo per Tag and V in a transaction). A read FOR UPDATE reads the
// database (it takes the lock) and may put() what it read.
// Requires: every write of such a row in a transaction calls forget() (or put()) for it in
// that transaction, before the row is read again.
template <class Tag, class V>
class TxMemo {
 public:
  // What `tx` read for `key`, or null.
  static const V* find(Tx& tx, const std::string& key) {
    auto& values = tx.local<Values>().map;
    auto it = values.find(key);
    return it == values.end() ? nullptr : &it->second;
  }
  static void put(Tx& tx, const std::string& key, V value) {
    tx.local<Values>().map.insert_or_assign(key, std::move(value));
  }
  static void forget(Tx& tx, const std::string& key) { tx.local<Values>().map.erase(key); }
  static void forget_all(Tx& tx) { tx.local<Values>().map.clear(); }

 private:
  struct Values {
    std::unordered_map<std::string, V> map;
  };
};

}  // namespace recur::db
