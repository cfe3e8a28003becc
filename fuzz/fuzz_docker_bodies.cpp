// Every Engine API body parser of drivers/docker/protocol.cpp on the same text (what the
// engine, or whatever answers on its socket, may send). Seeds: tests/data/docker/1.41/*.json.
#include "drivers/docker/protocol.hpp"
#include "fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  using namespace virtbench::docker;
  auto body = fuzz::text_of(data, size);
  fuzz::refusing_only_with_error([&] { (void)engine_error_message("GET /fuzz", 500, body); });
  fuzz::refusing_only_with_error([&] { (void)socket_path_from_docker_host(body); });
  fuzz::refusing_only_with_error([&] { (void)parse_version(body); });
  fuzz::refusing_only_with_error([&] { (void)parse_info(body); });
  fuzz::refusing_only_with_error([&] { (void)parse_id(body, "POST /containers/create"); });
  fuzz::refusing_only_with_error([&] { (void)parse_container_inspect(body); });
  fuzz::refusing_only_with_error([&] { (void)parse_volume_create(body); });
  fuzz::refusing_only_with_error([&] { (void)parse_labelled_volumes(body); });
  fuzz::refusing_only_with_error([&] { (void)parse_exec_inspect(body); });
  fuzz::refusing_only_with_error([&] { (void)parse_stats_cpu(body); });
  fuzz::refusing_only_with_error([&] { (void)parse_labelled_containers(body); });
  fuzz::refusing_only_with_error([&] { (void)parse_import_response(body); });
  fuzz::refusing_only_with_error([&] { (void)url_encode(body); });
  return 0;
}
