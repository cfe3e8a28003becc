// `virtbench report`: reports regenerated from results.json alone.
#include "commands.hpp"
#include "report.hpp"
#include "results.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

struct ReportArgs {
  std::string dir;
  std::string format = "markdown";
};

int report_command(const ReportArgs& a) {
  auto results = load_results(a.dir);
  fs::path base = fs::is_directory(a.dir) ? fs::path(a.dir) : fs::path(a.dir).parent_path();
  if (a.format == "markdown") {
    auto path = base / "report.md";
    write_file_atomic(path, render_markdown(results));
    std::cout << path.string() << std::endl;
    return 0;
  }
  throw UsageError("report --format " + a.format + ": not available yet; use --format markdown");
}

} // namespace

std::vector<Command> add_report_commands(CLI::App& app, GlobalOptions&) {
  auto args = std::make_shared<ReportArgs>();
  auto* report = app.add_subcommand("report", "Regenerate a report from DIR/results.json alone");
  report->add_option("DIR", args->dir, "A results directory written by `virtbench run`")->required();
  report->add_option("--format", args->format, "markdown, html or csv")
      ->check(CLI::IsMember({"markdown", "html", "csv"}))
      ->capture_default_str();
  return {{report, [args] { return report_command(*args); }}};
}

} // namespace virtbench
