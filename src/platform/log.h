// Logging set-up: one JSON object per line on stderr.
#pragma once

namespace recur {

// Every line: {"ts":"...Z","level":"info","msg":"..."}; a message that is itself a JSON
// object (access logs) is embedded as "event" instead of quoted.
void setup_json_logging();

}  // namespace recur
