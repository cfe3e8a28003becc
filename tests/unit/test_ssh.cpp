// ssh.hpp without a host: the ssh:// address, quoting for the remote shell (checked against
// this host's own /bin/sh), classifying ssh's recorded failures, the remote wrapper's times,
// the long-lived process wrapper, the socket forward's argument, and image push's plan.
#include "image.hpp"
#include "image_push.hpp"
#include "remote_host.hpp"
#include "ssh.hpp"
#include "test_util.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <doctest/doctest.h>

using namespace virtbench;

namespace {

// The bytes `sh -c "printf '%s\0' QUOTED"` prints: each argument as the shell split it.
std::string through_sh(const std::vector<std::string>& argv) {
  std::vector<std::string> cmd{"sh", "-c", "printf '%s\\0' " + shell_quote(argv)};
  auto r = run_sync(run_process(cmd));
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::string nul_joined(const std::vector<std::string>& argv) {
  std::string s;
  for (auto& a : argv)
    s += a + '\0';
  return s;
}

} // namespace

TEST_CASE("shell_quote: single quotes around each element, ' as '\\''") {
  CHECK(shell_quote({"sysbench", "cpu", "run"}) == "'sysbench' 'cpu' 'run'");
  CHECK(shell_quote({"it's"}) == "'it'\\''s'");
  CHECK(shell_quote({""}) == "''");
  CHECK(shell_quote({}) == "");
}

TEST_CASE("shell_quote: hostile arguments reach the command verbatim through a real POSIX sh") {
  std::vector<std::string> hostile{"a b",      "'",         "\"",        "it's \"quoted\"", "; rm -rf /tmp/nothing",
                                   "$(id)",    "`id`",      "${HOME}",   "a\nb\n",          "",
                                   "-n",       "--help",    "\\",        "*",               "~",
                                   "\t tab",   "é ü 日本",  "'\\''",     "&& || | > <",     "#comment",
                                   "$'x'",     "!",         "a\rb",      "%s %d",           "'$(id)'"};
  CHECK(through_sh(hostile) == nul_joined(hostile));
  // printf's own first argument stays ours: a leading '-' is data
  std::vector<std::string> dash{"-", "--", "-e", "-- -x"};
  CHECK(through_sh(dash) == nul_joined(dash));
}

TEST_CASE("parse_ssh_url: user, host, port, IPv6") {
  auto t = parse_ssh_url("ssh://root@127.0.0.1:2222");
  CHECK(t.user == "root");
  CHECK(t.host == "127.0.0.1");
  CHECK(t.port == 2222);
  CHECK(t.url() == "ssh://root@127.0.0.1:2222");
  auto plain = parse_ssh_url("ssh://bench-2");
  CHECK(plain.user.empty());
  CHECK(plain.host == "bench-2");
  CHECK_FALSE(plain.port);
  CHECK(plain.url() == "ssh://bench-2");
  auto v6 = parse_ssh_url("ssh://me@[::1]:22/");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 22);
  CHECK(v6.url() == "ssh://me@[::1]:22");
}

TEST_CASE("parse_ssh_url refuses what is not an ssh host, saying why") {
  auto why = [](const char* url) { return test::error_of<UsageError>([&] { parse_ssh_url(url); }); };
  CHECK(why("bench-2").find("only ssh://") != std::string::npos);
  CHECK(why("tcp://bench-2:2376").find("only ssh://") != std::string::npos);
  CHECK(why("ssh://").find("no host") != std::string::npos);
  CHECK(why("ssh://root@").find("no host") != std::string::npos);
  CHECK(why("ssh://root@:22").find("no host") != std::string::npos);
  CHECK(why("ssh://host:0").find("outside 1-65535") != std::string::npos);
  CHECK(why("ssh://host:65536").find("outside 1-65535") != std::string::npos);
  CHECK(why("ssh://host:22x").find("not a number") != std::string::npos);
  CHECK(why("ssh://host:").find("empty port") != std::string::npos);
  CHECK(why("ssh://host/var/tmp").find("path") != std::string::npos);
  CHECK(why("ssh://root:secret@host").find("password") != std::string::npos);
  CHECK(why("ssh://-oProxyCommand=x").find("'-'") != std::string::npos);
  CHECK(why("ssh://-l@host").find("'-'") != std::string::npos);
  CHECK(why("ssh://ho st").find("space") != std::string::npos);
  CHECK(why("ssh://[::1").find("']'") != std::string::npos);
}

TEST_CASE("classify_ssh_failure: one line with the fix for each recorded failure of OpenSSH 9.2") {
  auto t = parse_ssh_url("ssh://root@127.0.0.1:2299");
  auto of = [&](const char* file) { return classify_ssh_failure(test::data_file(std::string("openssh/9.2/") + file), t, "/tmp/c"); };
  auto refused = of("connection-refused.txt");
  CHECK(refused.message.find("connection refused on port 2299") != std::string::npos);
  CHECK_FALSE(refused.usage);
  auto unknown = of("unknown-host-key.txt");
  CHECK(unknown.message.find("is not in") != std::string::npos);
  CHECK(unknown.message.find("ssh-keyscan -p 2299 127.0.0.1") != std::string::npos);
  CHECK(unknown.usage);
  auto changed = of("changed-host-key.txt");
  CHECK(changed.message.find("CHANGED") != std::string::npos);
  CHECK(changed.message.find("ssh-keygen -f \"/tmp/vbtest-ssh/kh3\" -R \"[127.0.0.1]:2299\"") != std::string::npos);
  CHECK_FALSE(changed.usage);
  auto denied = of("permission-denied.txt");
  CHECK(denied.message.find("refused the key") != std::string::npos);
  CHECK(denied.message.find("~root/.ssh/authorized_keys") != std::string::npos);
  CHECK(denied.usage);
  auto resolve = of("resolve.txt");
  CHECK(resolve.message.find("cannot resolve") != std::string::npos);
  CHECK(resolve.usage);
  auto unreachable = of("unreachable.txt");
  CHECK(unreachable.message.find("unreachable") != std::string::npos);
  CHECK_FALSE(unreachable.usage);
  for (auto* m : {&refused, &unknown, &changed, &denied, &resolve, &unreachable})
    CHECK(m->message.find('\n') == std::string::npos);
}

TEST_CASE("the remote wrapper runs the command in its directory, keeps its exit code and reports its CPU time") {
  auto argv = remote_exec_argv("/tmp", {"sh", "-c", "pwd; echo err >&2; exit 7"});
  ProcessOptions po;
  po.hold_stdin = true;
  auto r = run_sync(run_process(argv, po));
  CHECK(r.exit_code == 7);
  CHECK(r.out == "/tmp\n");
  auto err = r.err;
  auto times = take_remote_times(err);
  REQUIRE(times);
  CHECK(times->first >= 0);
  CHECK(err == "err\n");
  auto missing = run_sync(run_process(remote_exec_argv("/nonexistent-dir", {"true"}), po));
  CHECK(missing.exit_code == 125);
}

TEST_CASE("take_remote_times: dash's and bash's formats; absent or garbled is nullopt") {
  std::string dash = "out\n@virtbench-times@\n0m0.001000s 0m0.002000s\n1m2.500000s 0m0.250000s\n";
  auto t = take_remote_times(dash);
  REQUIRE(t);
  CHECK(t->first == doctest::Approx(62.5));
  CHECK(t->second == doctest::Approx(0.25));
  CHECK(dash == "out");
  std::string none = "plain stderr\n";
  CHECK_FALSE(take_remote_times(none));
  CHECK(none == "plain stderr\n");
  std::string garbled = "\n@virtbench-times@\nx y\n";
  CHECK_FALSE(take_remote_times(garbled));
}

TEST_CASE("parse_remote_host_facts: the host block of a remote host") {
  auto h = parse_remote_host_facts("kernel=6.1.0-18-amd64 #1 SMP\nhostname=bench-2\narch=x86_64\ncpus=8\n"
                                   "cpu_model=AMD EPYC 7B13\nmemtotal_kib=1024\ncpu_governor=\n"
                                   "transparent_hugepage=always [madvise] never\nmitigation.meltdown=Not affected\n",
                                   "ssh://root@bench-2");
  CHECK(h["hostname"].as_string() == "bench-2");
  CHECK(h["cpus"].to_number<int>() == 8);
  CHECK(h["memory_bytes"].to_number<std::uint64_t>() == 1024 * 1024);
  CHECK(h["cpu_governor"].as_string() == "unavailable");
  CHECK(h["cpu_model"].as_string() == "AMD EPYC 7B13");
  CHECK(h["mitigations"].as_object().at("meltdown").as_string() == "Not affected");
  CHECK(h["remote"].as_string() == "ssh://root@bench-2");
}

TEST_CASE("unix_forward_spec: LOCAL:REMOTE for ssh -L; paths ssh's forward syntax would split are refused") {
  CHECK(unix_forward_spec("/run/user/0/virtbench/run-1/docker-engine.sock", "/var/run/docker.sock") ==
        "/run/user/0/virtbench/run-1/docker-engine.sock:/var/run/docker.sock");
  CHECK(unix_forward_spec("/tmp/a-b_c.d~e", "/run/libvirt/virtqemud-sock") == "/tmp/a-b_c.d~e:/run/libvirt/virtqemud-sock");
  auto why = [](const std::string& local, const std::string& remote) {
    return test::error_of<Error>([&] { unix_forward_spec(local, remote); });
  };
  CHECK(why("run/docker.sock", "/var/run/docker.sock").find("run/docker.sock") != std::string::npos);
  CHECK(why("/tmp/l.sock", "").find("absolute") != std::string::npos);
  for (const char* hostile : {"/tmp/a:b", "/tmp/a b", "/tmp/a\nb", "/tmp/[::1]", "/tmp/a\tb", "/tmp/a\x7f", "rel"}) {
    CAPTURE(hostile);
    CHECK_THROWS_AS(unix_forward_spec("/tmp/l.sock", hostile), Error);
    CHECK_THROWS_AS(unix_forward_spec(hostile, "/var/run/docker.sock"), Error);
  }
  CHECK_THROWS_AS(unix_forward_spec("/" + std::string(107, 'x'), "/r"), Error); // sun_path's 108 bytes with the NUL
  CHECK_NOTHROW(unix_forward_spec("/" + std::string(90, 'x'), "/r"));
}

namespace {

const std::vector<std::string> k_push_hostile{"a b", "'", "\"", "it's \"q\"", "; touch /tmp/vbtest-pwned",
                                              "$(touch /tmp/vbtest-pwned)", "`id`", "${HOME}", "line\nbreak\n", "",
                                              "-n", "--", "\\", "*", "~", "\u00e9", "&& || | > <", "#c", "%s %d"};

GuestImage push_test_image(const std::string& files_json) {
  return guest_image_from_manifest("/img", R"({"recipe_hash":"abc","files":)" + files_json + "}");
}

const std::string k_sha_a(64, 'a');

} // namespace

TEST_CASE("remote_long_lived_argv: hostile arguments arrive verbatim, the pid is recorded, the exit code kept") {
  TempDir dir(std::filesystem::temp_directory_path(), "vbtest-longlived-");
  auto out = (dir.path() / "out").string(), pid = (dir.path() / "pid").string();
  std::vector<std::string> command{"sh", "-c", "printf '%s\\0' \"$@\" > \"$0\"; exit 3", out};
  command.insert(command.end(), k_push_hostile.begin(), k_push_hostile.end());
  // Through a real POSIX sh, quoted as ssh would send it.
  std::vector<std::string> argv{"sh", "-c", shell_quote(remote_long_lived_argv(pid, command))};
  ProcessOptions po;
  po.hold_stdin = true;
  auto r = run_sync(run_process(argv, po));
  CHECK(r.exit_code == 3);
  std::string expected;
  for (auto& a : k_push_hostile)
    expected += a + '\0';
  CHECK(read_file(out) == expected);
  CHECK(std::stol(read_file(pid)) > 0);
  CHECK_FALSE(std::filesystem::exists("/tmp/vbtest-pwned"));
}

TEST_CASE("remote_long_lived_argv: the process is ended (SIGTERM) when the wrapper's stdin closes") {
  TempDir dir(std::filesystem::temp_directory_path(), "vbtest-longlived-");
  ProcessOptions po; // stdin /dev/null: closed at once, as when the ssh client goes away
  po.timeout = std::chrono::seconds(20);
  auto started = std::chrono::steady_clock::now();
  auto r = run_sync(run_process(remote_long_lived_argv((dir.path() / "pid").string(), {"sleep", "30"}), po));
  CHECK(r.exit_code == 128 + 15);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
}

TEST_CASE("vm_image_files: the VM's files with sizes and sha256 from the manifest, vmlinux optional") {
  auto files = vm_image_files(push_test_image(
      R"({"base.qcow2":{"bytes":10,"sha256":")" + k_sha_a + R"("},"vmlinuz":{"bytes":5,"sha256":")" + k_sha_a +
      R"("},"initrd.img":{"bytes":0,"sha256":")" + k_sha_a + R"("},"rootfs.tar":{"bytes":9,"sha256":")" + k_sha_a +
      R"("}})"));
  REQUIRE(files.size() == 3);
  CHECK(files[0].name == "base.qcow2");
  CHECK(files[0].bytes == 10);
  CHECK(files[1].name == "vmlinuz");
  CHECK(files[2].name == "initrd.img");
  CHECK(test::error_of([] { vm_image_files(push_test_image(R"({"base.qcow2":{"bytes":1,"sha256":"x"}})")); })
            .find("files.base.qcow2 needs") != std::string::npos);
  CHECK(test::error_of([] { vm_image_files(push_test_image(R"({})")); }).find("has no files.base.qcow2") !=
        std::string::npos);
  CHECK(test::error_of([] { vm_image_files(guest_image_from_manifest("/i", R"({"recipe_hash":"a"})")); })
            .find("has no \"files\"") != std::string::npos);
}

TEST_CASE("parse_remote_image_state: file and part sizes; other lines ignored") {
  auto s = parse_remote_image_state("file 10 base.qcow2\npart 4 vmlinuz\nnoise\nfile x y\nfile 3 vmlinuz\n");
  CHECK(s["base.qcow2"].final_bytes == 10u);
  CHECK_FALSE(s["base.qcow2"].part_bytes);
  CHECK(s["vmlinuz"].part_bytes == 4u);
  CHECK(s["vmlinuz"].final_bytes == 3u);
  CHECK(s.size() == 2);
}

TEST_CASE("plan_image_push: keep, check, resume from a part or a short file, copy") {
  std::vector<ImageFile> files{{"a", 10, k_sha_a}, {"b", 10, k_sha_a}, {"c", 10, k_sha_a}, {"d", 10, k_sha_a},
                               {"e", 10, k_sha_a}, {"f", 10, k_sha_a}};
  std::map<std::string, RemoteFileState> remote{
      {"a", {10, std::nullopt}}, // complete
      {"b", {4, std::nullopt}},  // cut short
      {"c", {std::nullopt, 6}},  // an interrupted copy
      {"d", {std::nullopt, 12}}, // a part longer than the file: not this file's
      {"e", {12, std::nullopt}}, // longer: not this file
  };
  auto trusted = plan_image_push(files, remote, true);
  CHECK(trusted[0].action == PushAction::keep);
  CHECK(trusted[1].action == PushAction::resume);
  CHECK(trusted[1].from == 4);
  CHECK(trusted[1].from_final);
  CHECK(trusted[2].action == PushAction::resume);
  CHECK(trusted[2].from == 6);
  CHECK_FALSE(trusted[2].from_final);
  CHECK(trusted[3].action == PushAction::copy);
  CHECK(trusted[4].action == PushAction::copy);
  CHECK(trusted[5].action == PushAction::copy);
  auto untrusted = plan_image_push(files, remote, false);
  CHECK(untrusted[0].action == PushAction::check); // another recipe's manifest: sizes are not enough
}
