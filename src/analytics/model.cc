// Analytics' pure rules: see model.h and docs/analytics.md.
#include "analytics/model.h"

namespace recur::analytics {}  // namespace recur::analytics
