// recur: the subscription-commerce backend's one binary.
#include "app/cli.h"

int main(int argc, char** argv) { return recur::app::run_cli(argc, argv); }
