// pgscope-exporter: one process per database pod, serving PostgreSQL metrics.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "exporter/exporter_setup.hpp"
#include "exporter/http_server.hpp"
#include "exporter/logging.hpp"
#include "exporter/metrics_reference.hpp"
#include "exporter/options.hpp"
#include "exporter/web_config.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

int main(int argc, char** argv) {
  using namespace pgscope;
  // Every scrape runs collectors and databases on fresh threads, and glibc
  // gives each thread its own arena that keeps freed memory: measured, RSS
  // grew from 150 to 410 MiB on 60 000 series, against 86 MiB with few arenas.
  mallopt(M_ARENA_MAX, 2);
  // Signals are taken by one thread with sigwait, so shutdown and reload
  // never run inside a signal handler. Blocked before any thread starts
  // (collectors and /probe start some), as every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Options options;
  std::unique_ptr<Exporter> exporter;
  std::unique_ptr<HttpServer> server;
  try {
    options = parse_options(argc, argv, current_environment());
    if (options.show_help) {
      std::cout << help_text();
      return 0;
    }
    if (options.show_version) {
      std::cout << "pgscope-exporter " << PGSCOPE_VERSION << "\n";
      return 0;
    }
    setup_logging(options.log_level, options.log_format);
    for (const auto& warning : options.warnings) spdlog::warn("{}", warning);
    if (options.dump_catalog) {
      std::cout << dump_effective_catalog(options);
      return 0;
    }
    if (options.dump_metrics_reference) {
      std::cout << metrics_reference_markdown(builtin_catalog());
      return 0;
    }
    // TLS, basic auth and headers: read once, here; certificates are
    // re-read when they change on disk, the rest at the next restart.
    const WebSecurity web = load_web_security(options.web_config_file, options.web_unauthenticated_paths);
    const Environment environment = current_environment();
    exporter =
        build_exporter(options, [argc, argv, environment] { return parse_options(argc, argv, environment); });
    server = std::make_unique<HttpServer>(web);
    spdlog::info("web: {}", describe(web));
    if (!web.unauthenticated_paths.empty() && web.config.basic_auth_users.empty()) {
      spdlog::warn("--web.unauthenticated-path has no effect: the web config sets no basic_auth_users");
    }
    if (!web.config.http2) spdlog::debug("web config: http2: false is moot, pgscope serves HTTP/1.1 only");
  } catch (const UsageError& error) {
    std::cerr << "pgscope-exporter: " << error.what() << "\n";
    return 2;
  }

  exporter->add_routes(*server);
  try {
    server->bind(options.listen_address);
  } catch (const std::exception& error) {
    spdlog::error("cannot listen: {}", error.what());
    return 1;
  }
  std::atomic<bool> serving_done{false};
  std::thread signal_watcher([&] {
    int received = 0;
    // SIGHUP reloads the configuration and queries, as Prometheus does.
    while (sigwait(&signals, &received) == 0 && received == SIGHUP && !serving_done) {
      spdlog::info("received SIGHUP, reloading");
      exporter->reload();
    }
    if (serving_done) return;  // woken by main after serve() ended on its own
    spdlog::info("received signal {}, shutting down (a second signal stops at once)", received);
    exporter->shutdown();
    server->stop();
    do {
      sigwait(&signals, &received);
    } while (received == SIGHUP && !serving_done);
    if (serving_done) return;
    spdlog::warn("received signal {} again, stopping now", received);
    spdlog::default_logger_raw()->flush();  // not spdlog::shutdown(): see below
    std::_Exit(1);
  });
  spdlog::info("pgscope-exporter {} listening on {} (metrics at {})", PGSCOPE_VERSION, options.listen_address,
               options.telemetry_path);
  server->serve();
  serving_done = true;
  pthread_kill(signal_watcher.native_handle(), SIGTERM);
  signal_watcher.join();
  // Closes the connections of idle collectors cleanly. A collector still
  // stuck in a call (a DNS lookup libpq cannot bound) keeps its thread:
  // _Exit below ends it without running static destructors under its feet.
  exporter.reset();
  spdlog::info("stopped");
  // Flushed, not spdlog::shutdown(): that destroys the default logger, and a
  // collector thread still running (overran against a frozen source) that
  // logs before _Exit would use it after free and end the process by SIGSEGV
  // instead of exit code 0.
  spdlog::default_logger_raw()->flush();
  std::fflush(nullptr);
#if defined(__SANITIZE_ADDRESS__)
  // Sanitized build (scripts/sanitize): _Exit skips LeakSanitizer's check at
  // exit, so it runs here, once everything the exporter built is gone.
  __lsan_do_leak_check();
#endif
  std::_Exit(0);
}