// The Docker Engine API without I/O, on responses recorded from a real engine
// (tests/data/docker/1.41/README.md says how).
#include "drivers/docker/protocol.hpp"
#include "sysbench.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace virtbench;
using namespace virtbench::docker;
using virtbench::test::data_file;

namespace {

std::string recorded(const std::string& name) { return data_file("docker/1.41/" + name); }

std::string frame(int stream, std::string_view payload) {
  std::string h(8, '\0');
  h[0] = static_cast<char>(stream);
  auto n = static_cast<std::uint32_t>(payload.size());
  h[4] = static_cast<char>(n >> 24);
  h[5] = static_cast<char>(n >> 16);
  h[6] = static_cast<char>(n >> 8);
  h[7] = static_cast<char>(n);
  return h + std::string(payload);
}

std::string expected_interleaved_stdout() {
  std::string s = "out1\nout2\n";
  for (int i = 1; i <= 20000; ++i)
    s += std::to_string(i) + "\n";
  return s;
}

} // namespace

TEST_CASE("the recorded interleaved exec stream decodes into stdout and stderr") {
  auto bytes = recorded("exec-start-interleaved.bin");
  StreamDecoder d;
  d.feed(bytes);
  d.finish();
  CHECK(d.out() == expected_interleaved_stdout());
  CHECK(d.err() == "err1\nerr2\n");
  CHECK(d.frames() >= 4);
  CHECK(d.system_error().empty());
}

TEST_CASE("the stream decodes the same whatever the chunking: bytes, headers split, random reads") {
  auto bytes = recorded("exec-start-interleaved.bin");
  auto expected_out = expected_interleaved_stdout();
  for (std::size_t chunk : {std::size_t(1), std::size_t(3), std::size_t(7), std::size_t(8), std::size_t(9),
                            std::size_t(4096), std::size_t(16384)}) {
    CAPTURE(chunk);
    StreamDecoder d;
    for (std::size_t i = 0; i < bytes.size(); i += chunk)
      d.feed(std::string_view(bytes).substr(i, chunk));
    d.finish();
    CHECK(d.out() == expected_out);
    CHECK(d.err() == "err1\nerr2\n");
  }
  std::mt19937 rng(241);
  StreamDecoder d;
  for (std::size_t i = 0; i < bytes.size();) {
    std::size_t n = std::uniform_int_distribution<std::size_t>(0, 20)(rng);
    d.feed(std::string_view(bytes).substr(i, n));
    i += n;
  }
  d.finish();
  CHECK(d.out() == expected_out);
}

TEST_CASE("the recorded sysbench exec stream holds a parseable sysbench report") {
  StreamDecoder d;
  d.feed(recorded("exec-start-sysbench.bin"));
  d.finish();
  CHECK(d.err().empty());
  auto m = parse_sysbench_output(d.out(), Workload::cpu);
  REQUIRE(m.events_per_sec.has_value());
  CHECK(*m.events_per_sec > 1000);
  StreamDecoder sum;
  sum.feed(recorded("exec-start-sha256sum.bin"));
  CHECK(sum.out().size() == 64 + 2 + std::string("/usr/bin/sysbench\n").size());
}

TEST_CASE("zero-length frames between recorded frames change nothing, even split mid-header") {
  auto bytes = recorded("exec-start-sha256sum.bin");
  auto stream = frame(1, "") + bytes + frame(2, "") + frame(1, "") + frame(2, "tail\n");
  StreamDecoder whole;
  whole.feed(stream);
  whole.finish();
  CHECK(whole.frames() == 5);
  CHECK(whole.err() == "tail\n");
  StreamDecoder split;
  split.feed(std::string_view(stream).substr(0, 5)); // inside the first, empty frame's header
  split.feed(std::string_view(stream).substr(5, 6)); // its end and the next header's start
  split.feed(std::string_view(stream).substr(11));
  split.finish();
  CHECK(split.out() == whole.out());
  CHECK(split.err() == "tail\n");
  CHECK(split.out().size() == 64 + 2 + 18);
}

TEST_CASE("a system-error frame, a TTY stream and a cut-off stream are told apart") {
  StreamDecoder sys;
  sys.feed(frame(1, "partial\n") + frame(3, "exec failed: no such file\n"));
  sys.finish();
  CHECK(sys.out() == "partial\n");
  CHECK(sys.system_error() == "exec failed: no such file\n");

  StreamDecoder tty;
  CHECK_THROWS_WITH_AS(tty.feed("sysbench 1.0.20 (using system LuaJIT)\n"), doctest::Contains("TTY"), Error);

  auto bytes = recorded("exec-start-interleaved.bin"); // its last frame is "err2\n"
  StreamDecoder cut;
  cut.feed(std::string_view(bytes).substr(0, bytes.size() - 3));
  CHECK_THROWS_WITH_AS(cut.finish(), doctest::Contains("3 byte(s) short"), Error);
  StreamDecoder cut_header;
  cut_header.feed(std::string_view(bytes).substr(0, 5));
  CHECK_THROWS_WITH_AS(cut_header.finish(), doctest::Contains("inside a frame header"), Error);
}

TEST_CASE("engine errors name the call, the status and the engine's message") {
  auto m = engine_error_message("POST /v1.41/containers/64327e28d91e/pause", 409, recorded("error-409-pause-paused.json"));
  CHECK(m.starts_with("POST /v1.41/containers/64327e28d91e/pause: HTTP 409 (conflict): Container "));
  CHECK(m.ends_with("is already paused"));
  m = engine_error_message("GET /v1.41/containers/no-such-container/json", 404,
                           recorded("error-404-no-such-container.json"));
  CHECK(m == "GET /v1.41/containers/no-such-container/json: HTTP 404 (not found): No such container: no-such-container");
  m = engine_error_message("POST /v1.41/containers/create", 400, recorded("error-400-bad-create.json"));
  CHECK(m == "POST /v1.41/containers/create: HTTP 400 (bad parameter): Range of CPUs is from 0.01 to 2.00, as there are "
             "only 2 CPUs available");
  m = engine_error_message("POST /v1.41/images/create", 500, recorded("error-500-import-garbage.json"));
  CHECK(m.find("HTTP 500 (engine error): Error processing tar file") != std::string::npos);
  m = engine_error_message("POST /x/exec", 409, recorded("error-409-exec-paused.json"));
  CHECK(m.find("unpause the container before exec") != std::string::npos);
  // Not JSON (a proxy, an old engine): the text itself; nothing at all: said so.
  CHECK(engine_error_message("GET /_ping", 503, "Service Unavailable\r\n") ==
        "GET /_ping: HTTP 503 (engine unavailable): Service Unavailable");
  CHECK(engine_error_message("GET /x", 500, "") == "GET /x: HTTP 500 (engine error): (no message)");
}

TEST_CASE("the API version is negotiated from GET /version") {
  auto v = parse_version(recorded("version.json"));
  CHECK(v.version == "20.10.24+dfsg1");
  CHECK(v.api_version == "1.41");
  CHECK(v.negotiated == "1.41");
  CHECK(v.kernel.size() > 3);
  CHECK(parse_version(R"({"Version":"27.0.1","ApiVersion":"1.46","MinAPIVersion":"1.24"})").negotiated == "1.41");
  CHECK(parse_version(R"({"Version":"19.03","ApiVersion":"1.40","MinAPIVersion":"1.12"})").negotiated == "1.40");
  CHECK_THROWS_WITH_AS(parse_version(R"({"Version":"18.09","ApiVersion":"1.39"})"), doctest::Contains("older than 1.40"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_version(R"({"Version":"99","ApiVersion":"1.60","MinAPIVersion":"1.50"})"),
                       doctest::Contains("no longer speaks API 1.41"), Error);
  CHECK_THROWS_AS(parse_version("<html>"), Error);
}

TEST_CASE("exec inspect, stats, labelled containers and the import answer parse") {
  auto e = parse_exec_inspect(recorded("exec-inspect-interleaved.json"));
  CHECK_FALSE(e.running);
  CHECK(e.exit_code == 3);
  CHECK(parse_exec_inspect(recorded("exec-inspect-sysbench.json")).exit_code == 0);

  auto cpu = parse_stats_cpu(recorded("stats-oneshot.json"));
  REQUIRE(cpu.has_value());
  CHECK(cpu->user_s == doctest::Approx(0.64));
  CHECK(cpu->kernel_s == doctest::Approx(0.01));
  CHECK_FALSE(parse_stats_cpu(R"({"cpu_stats":{"cpu_usage":{"total_usage":5}}})").has_value());

  // The capture's own container and one an earlier hand-made run left behind (label "try").
  auto list = parse_labelled_containers(recorded("containers-by-label.json"));
  REQUIRE(list.size() == 2);
  CHECK(list[0].name == "virtbench-capture");
  CHECK(list[0].run_id == "capture");
  CHECK(list[0].state == "running");
  CHECK(list[0].id.size() == 64);
  CHECK(list[0].pid == 0);
  CHECK(list[0].controller.empty()); // (recorded before the controller label)
  CHECK(list[1].run_id == "try");
  // The controller label: which machine's pid the pid label is (a --host's engine serves several).
  auto labelled = parse_labelled_containers(
      R"([{"Id":"abc","Names":["/virtbench-r"],"State":"running","Labels":{"virtbench.run":"r","virtbench.pid":"42",)"
      R"("virtbench.controller":"0123abcd"}},{"Id":"def","Names":["/x"],"Labels":{"virtbench.controller":7}}])");
  REQUIRE(labelled.size() == 2);
  CHECK(labelled[0].controller == "0123abcd");
  CHECK(labelled[0].pid == 42);
  CHECK(labelled[1].controller.empty()); // not a string: as if absent

  CHECK(parse_import_response(recorded("import-response.txt")) ==
        "sha256:a1a09ec4f483009849f9123eb96c51776c042d429537bfe44e3155c4c74b6f99");
  CHECK_THROWS_WITH_AS(parse_import_response("{\"status\":\"Downloading\"}\r\n{\"errorDetail\":{\"message\":\"no space "
                                             "left on device\"},\"error\":\"no space left on device\"}\r\n"),
                       doctest::Contains("no space left on device"), Error);
  CHECK_THROWS_AS(parse_import_response(""), Error);
}

TEST_CASE("GET /info gives the storage driver and the cgroup setup") {
  auto info = parse_info(recorded("info.json"));
  CHECK(info.storage_driver == "overlay2");
  CHECK(info.cgroup_driver == "cgroupfs");
  CHECK(info.cgroup_version == "1");
  CHECK(parse_info(R"({"CgroupVersion":2})").cgroup_version == "2");
  CHECK(parse_info("{}").storage_driver.empty()); // left out: described as unknown, not an error
  CHECK_THROWS_WITH_AS(parse_info(R"(["overlay2"])"), doctest::Contains("GET /info: not a JSON object"), Error);
  CHECK_THROWS_WITH_AS(parse_info(R"({"Driver":)"), doctest::Contains("GET /info: not JSON"), Error);
}

TEST_CASE("the Id of an inspected image, a created container and a created exec") {
  CHECK(parse_id(recorded("image-inspect.json"), "GET /images/x/json") ==
        "sha256:a9fcbaa3b427c845a66fdf7a7c0fe3522d93715dd0124c7bc049d63e61893e85");
  CHECK(parse_id(recorded("container-create.json"), "POST /containers/create").size() == 64);
  CHECK(parse_id(recorded("exec-create-interleaved.json"), "POST /containers/c/exec") ==
        "4614930b09e37aaa380b9e5e1405779eb0881c58391eb3a693399bc86e5978bc");
  CHECK_THROWS_WITH_AS(parse_id(R"({"Warnings":[]})", "POST /containers/create"),
                       doctest::Contains("POST /containers/create: no Id"), Error);
  CHECK_THROWS_WITH_AS(parse_id(R"({"Id":42})", "POST /containers/c/exec"),
                       doctest::Contains("POST /containers/c/exec: no Id"), Error);
  CHECK_THROWS_WITH_AS(parse_id(R"("sha256:abc")", "GET /images/x/json"),
                       doctest::Contains("GET /images/x/json: not a JSON object"), Error);
  CHECK_THROWS_AS(parse_id("", "GET /images/x/json"), Error);
}

TEST_CASE("container inspect: the pid of a running container, the state of one the OOM killer stopped") {
  auto running = parse_container_inspect(recorded("container-inspect.json"));
  CHECK(running.running);
  CHECK(running.pid == 1277);
  CHECK(running.status == "running");
  CHECK_FALSE(running.oom_killed);
  auto killed = parse_container_inspect(recorded("container-inspect-oom-killed.json"));
  CHECK_FALSE(killed.running);
  CHECK(killed.pid == 0);
  CHECK(killed.status == "exited");
  CHECK(killed.oom_killed);
  CHECK_THROWS_WITH_AS(parse_container_inspect(R"({"Id":"abc"})"), doctest::Contains("no State object"), Error);
  CHECK_THROWS_WITH_AS(parse_container_inspect(R"({"State":{"Running":"yes","Pid":"1"}})"),
                       doctest::Contains("State.Running is not true or false"), Error);
  CHECK_THROWS_WITH_AS(parse_container_inspect(R"({"State":[]})"),
                       doctest::Contains("GET /containers/{id}/json: no State object"), Error);
}

TEST_CASE("volumes: the created one's driver and mountpoint, the labelled ones with their pid label") {
  auto created = parse_volume_create(recorded("volume-create.json"));
  CHECK(created.driver == "local");
  CHECK(created.mountpoint.ends_with("/volumes/virtbench-capture/_data"));
  CHECK_THROWS_WITH_AS(parse_volume_create(R"({"Name":"v","Driver":"local"})"),
                       doctest::Contains("POST /volumes/create: no Mountpoint"), Error);
  CHECK_THROWS_AS(parse_volume_create("null"), Error);

  auto list = parse_labelled_volumes(recorded("volumes-by-label.json"));
  REQUIRE(list.size() == 1);
  CHECK(list[0].name == "virtbench-capture");
  CHECK(list[0].pid == 1);
  CHECK(parse_labelled_volumes(recorded("volumes-by-label-none.json")).empty());
  CHECK(parse_labelled_volumes(R"({"Volumes":null,"Warnings":null})").empty());
  // A volume without a name cannot be removed: left out; one without a pid label is a leftover.
  auto odd = parse_labelled_volumes(R"({"Volumes":[{"Labels":{}},{"Name":"v","Labels":null}]})");
  REQUIRE(odd.size() == 1);
  CHECK(odd[0].name == "v");
  CHECK(odd[0].pid == 0);
  CHECK(odd[0].controller.empty());
  auto other = parse_labelled_volumes(R"({"Volumes":[{"Name":"v","Labels":{"virtbench.controller":"m2"}}]})");
  REQUIRE(other.size() == 1);
  CHECK(other[0].controller == "m2");
  CHECK_THROWS_WITH_AS(parse_labelled_volumes(R"({"Volumes":{"Name":"v"}})"),
                       doctest::Contains("GET /volumes: Volumes is not a list"), Error);
  CHECK_THROWS_WITH_AS(parse_labelled_volumes("[]"), doctest::Contains("GET /volumes: not a JSON object"), Error);
}

TEST_CASE("docker hosts: Unix sockets only, absolute paths") {
  CHECK(socket_path_from_docker_host("unix:///var/run/docker.sock") == "/var/run/docker.sock");
  CHECK(socket_path_from_docker_host("/run/x/docker.sock") == "/run/x/docker.sock");
  CHECK_THROWS_WITH_AS(socket_path_from_docker_host("tcp://10.0.0.1:2375"), doctest::Contains("only local Unix sockets (unix:///path/to/docker.sock or"),
                       UsageError);
  CHECK_THROWS_AS(socket_path_from_docker_host("docker.sock"), UsageError);
  CHECK(url_encode(R"({"label":["virtbench.run"]})") == "%7B%22label%22%3A%5B%22virtbench.run%22%5D%7D");
}

TEST_CASE("stream decoder: a command printing without end is an error past 64 MiB, in bounded memory") {
  StreamDecoder d;
  std::string frame = std::string("\x01\0\0\0\x00\x10\x00\x00", 8) + std::string(1 << 20, 'y'); // 1 MiB of stdout
  std::string what;
  auto peak = test::peak_rss_mib_during([&] {
    try {
      for (int i = 0; i < 1024; ++i) // 1 GiB, if nothing stopped it
        d.feed(frame);
    } catch (const Error& e) {
      what = e.what();
    }
  });
  CHECK(what == "decode the engine's output stream: the command printed more than 64 MiB on stdout; stopped reading "
                "it (a limit against runaway output)");
  CHECK(d.out().size() == 64u << 20);
  CHECK(peak < test::k_rss_budget_mib);
}
