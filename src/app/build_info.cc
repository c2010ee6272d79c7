// The version and commit of this build (CMake sets both on this file alone, so a new commit
// recompiles one file).
#include "app/metrics.h"

#ifndef RECUR_BUILD_VERSION
#define RECUR_BUILD_VERSION "unknown"
#endif
#ifndef RECUR_BUILD_COMMIT
#define RECUR_BUILD_COMMIT "unknown"
#endif

namespace recur::app {

std::string build_version() { return RECUR_BUILD_VERSION; }
std::string build_commit() { return RECUR_BUILD_COMMIT; }

}  // namespace recur::app
