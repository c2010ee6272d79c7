// Engine constructors behind db::open(); callers use db::open() with a URL.
#pragma once

#include <memory>
#include <string>

#include "platform/db/database.h"

namespace recur::db {

Result<std::unique_ptr<Database>> open_sqlite(const std::string& path, int pool_size);
Result<std::unique_ptr<Database>> open_postgres(const std::string& conninfo, int pool_size);

}  // namespace recur::db
