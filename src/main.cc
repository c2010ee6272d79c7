// recur: the subscription-commerce backend's one binary.
#include "app/cli.h"

// jemalloc's settings, read when it starts (decision 0031; ignored under another allocator):
// a background thread hands pages freed 5 s ago back to the system, so an idle node shrinks
// too, and RSS follows the bytes in use instead of the busiest moment.
extern "C" {
// NOLINTNEXTLINE: the name jemalloc looks for.
const char* malloc_conf = "background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:0";
}

int main(int argc, char** argv) { return recur::app::run_cli(argc, argv); }
