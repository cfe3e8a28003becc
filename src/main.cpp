// virtbench: measures what virtualization costs. See README.md and ARCHITECTURE.md.
#include "cli.hpp"

int main(int argc, char** argv) { return virtbench::cli_main(argc, argv); }
