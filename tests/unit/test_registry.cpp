// The registry: drivers' declared options merged for the command line and suites, their
// checks, fingerprint keys and methodology facts.
#include "registry.hpp"
#include "suite.hpp"
#include "util/error.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace virtbench;

namespace {

std::string usage_error_of(auto&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no UsageError)";
}

const char* k_suite_head = "name = \"s\"\n[[experiment]]\nname = \"c\"\nworkload = \"cpu\"\n";

} // namespace

TEST_CASE("the built-in drivers, in report order, each with a factory and a doctor") {
  auto names = platform_names();
  REQUIRE(!names.empty());
  CHECK(names.front() == "native");
  for (auto* d : drivers()) {
    CHECK(d->make_platform);
    CHECK(d->doctor);
    CHECK(!d->fingerprint_keys.empty());
    CHECK(!d->methodology.freeze.empty());
    CHECK(find_driver(d->name) == d);
  }
  CHECK(find_driver("vmware") == nullptr);
  auto msg = usage_error_of([] { make_platform("vmware", {}); });
  CHECK(msg.find("unknown platform \"vmware\"; known platforms: native") == 0);
}

TEST_CASE("an option several drivers declare is one option, with each of them") {
  auto* vcpus = find_option("vcpus");
  REQUIRE(vcpus);
  CHECK(vcpus->spec.kind == OptionSpec::Kind::integer);
  for (auto* d : drivers()) {
    bool declares = std::any_of(d->options.begin(), d->options.end(), [](auto& o) { return o.name == "vcpus"; });
    bool listed = std::count(vcpus->drivers.begin(), vcpus->drivers.end(), d->name) == 1;
    CHECK(declares == listed);
  }
  auto names = 0;
  for (auto& o : declared_options())
    names += o.spec.name == "vcpus";
  CHECK(names == 1);
}

TEST_CASE("option values: defaults, checked values, lists appended") {
  auto values = default_option_values();
  for (auto& o : declared_options())
    if (o.spec.kind != OptionSpec::Kind::list)
      CHECK(values.text(o.spec.name) == o.spec.default_value);
  REQUIRE_MESSAGE(find_driver("qemu"), "this test needs the qemu driver built in (meson -Dplatforms with qemu)");
  {
    set_option(values, "cache-mode", "writeback", "--");
    CHECK(values.text("cache-mode") == "writeback");
    auto msg = usage_error_of([&] { set_option(values, "cache-mode", "fast", "--"); });
    CHECK(msg == "--cache-mode fast: must be one of none, writeback, writethrough, directsync, unsafe");
    CHECK(values.text("cache-mode") == "writeback");
  }
  {
    CHECK(usage_error_of([&] { set_option(values, "vcpus", "0", "--"); }) == "--vcpus 0: must be from 1 to 256");
    CHECK(usage_error_of([&] { set_option(values, "vcpus", "2x", "--"); }).find("must be a whole number") !=
          std::string::npos);
    set_option(values, "vcpus", "4", "--");
    CHECK(values.integer("vcpus") == 4);
  }
  {
    set_option(values, "qemu-arg", "-d", "--");
    set_option(values, "qemu-arg", "in_asm", "--");
    CHECK(values.list("qemu-arg") == std::vector<std::string>{"-d", "in_asm"});
  }
  auto msg = usage_error_of([&] { set_option(values, "turbo", "1", "x: "); });
  CHECK(msg.find("x: unknown platform option \"turbo\"; the built-in drivers take: ") == 0);
  CHECK_THROWS_AS(values.text("turbo"), Error);
}

TEST_CASE("a suite's [platform.NAME] tables are checked against that driver's options") {
  REQUIRE_MESSAGE(find_driver("qemu"), "this test needs the qemu driver built in (meson -Dplatforms with qemu)");
  auto suite = parse_suite(std::string(k_suite_head) +
                               "[platform.qemu]\ncache-mode = \"writeback\"\nvcpus = 1\nqemu-arg = [\"-d\", \"x y\"]\n",
                           "s.toml");
  REQUIRE(suite.platform_options.size() == 4);
  CHECK(suite.platform_options[0].platform == "qemu");
  auto find = [&](const std::string& name) {
    std::vector<std::string> v;
    for (auto& o : suite.platform_options)
      if (o.name == name)
        v.push_back(o.value);
    return v;
  };
  CHECK(find("cache-mode") == std::vector<std::string>{"writeback"});
  CHECK(find("vcpus") == std::vector<std::string>{"1"});
  CHECK(find("qemu-arg") == std::vector<std::string>{"-d", "x y"});
  CHECK(suite.platform_options[0].where.find("s.toml:") == 0);

  auto err = [&](const std::string& tail) {
    return usage_error_of([&] { parse_suite(std::string(k_suite_head) + tail, "s.toml"); });
  };
  CHECK(err("[platform.vmware]\nx = 1\n").find("unknown key \"vmware\"") != std::string::npos);
  auto unknown = err("[platform.qemu]\ncache_mode = \"none\"\n");
  CHECK(unknown.find("s.toml:6: [platform.qemu] unknown key \"cache_mode\" (did you mean \"cache-mode\"?)") == 0);
  CHECK(unknown.find("(the options of qemu)") != std::string::npos);
  CHECK(err("[platform.qemu]\ncache-mode = \"fast\"\n") ==
        "s.toml:6: [platform.qemu] cache-mode = fast: must be one of none, writeback, writethrough, directsync, unsafe");
  CHECK(err("[platform.qemu]\nvcpus = \"two\"\n").find("must be a whole number") != std::string::npos);
  CHECK(err("[platform.qemu]\nvcpus = true\n").find("\"vcpus\" must be an integer, got boolean true") !=
        std::string::npos);
  REQUIRE_MESSAGE(find_driver("docker"), "this test needs the docker driver built in (meson -Dplatforms with docker)");
  CHECK(err("[platform.docker]\ncache-mode = \"none\"\n").find("(the options of docker)") != std::string::npos);
}

TEST_CASE("libvirt refuses a machine type it cannot run") {
  auto* libvirt = find_driver("libvirt");
  REQUIRE_MESSAGE(libvirt, "this test needs the libvirt driver built in (meson -Dplatforms with libvirt)");
  REQUIRE_MESSAGE(find_option("machine"), "this test needs the qemu driver built in (its --machine)");
  auto values = default_option_values();
  CHECK(libvirt->check_options(values).empty());
  set_option(values, "machine", "microvm", "--");
  CHECK(libvirt->check_options(values).find("--machine microvm is for the qemu platform only") == 0);
}

TEST_CASE("fingerprint keys and methodology facts come from the driver, with a fallback") {
  {
    auto* qemu = find_driver("qemu");
    REQUIRE_MESSAGE(qemu, "this test needs the qemu driver built in (meson -Dplatforms with qemu)");
    CHECK(fingerprint_keys("qemu") == qemu->fingerprint_keys);
    CHECK(methodology_facts("qemu").freeze == "QMP `stop`");
  }
  auto all = fingerprint_keys("hyper-v"); // not built in: every driver's keys
  for (auto* d : drivers())
    for (auto& k : d->fingerprint_keys)
      CHECK(std::count(all.begin(), all.end(), k) == 1);
  CHECK(methodology_facts("hyper-v").freeze == "its own driver's pause");
}
