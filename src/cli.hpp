#pragma once
// The command line (the contract in README.md): parses arguments, runs the command,
// maps errors to exit codes (0 ok, 1 failure, 2 bad input, 130 interrupted).

namespace virtbench {

int cli_main(int argc, char** argv);

} // namespace virtbench
