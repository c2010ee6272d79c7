// The command line: serve, migrate, keys, demo.
#pragma once

namespace recur::app {

int run_cli(int argc, char** argv);

}  // namespace recur::app
