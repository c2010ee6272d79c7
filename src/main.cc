// recur: the subscription-commerce backend's one binary.
#include "app/cli.h"

// jemalloc's settings, read when it starts (decision 0031; ignored under another allocator;
// MALLOC_CONF in the environment adds to them): one arena per CPU instead of four, so fewer
// arenas each keep free memory, and a background thread that hands pages freed 5 s ago back
// to the system, so an idle node shrinks too.
extern "C" {
// NOLINTNEXTLINE: the name jemalloc looks for.
const char* malloc_conf = "percpu_arena:percpu,background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:0";
}

int main(int argc, char** argv) { return recur::app::run_cli(argc, argv); }
