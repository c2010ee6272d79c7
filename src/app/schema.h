// Recur's schema, as ordered migrations. Each module's tables are marked with the module.
#pragma once

#include <vector>

#include "platform/db/migrate.h"

namespace recur::app {

const std::vector<db::Migration>& migrations();

}  // namespace recur::app
