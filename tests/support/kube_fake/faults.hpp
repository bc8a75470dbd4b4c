// Injected faults (error answers, delays, connection resets, dropped watch
// streams) and the socket-level helpers they need: cpp-httplib does not hand
// a handler its connection, so it is found by its address pair.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/kube_fake/fake_apiserver.hpp"

namespace pgscope::kubefake {

class FaultList {
 public:
  void add(FaultRule rule);
  void clear();
  // The first rule that matches and still has hits left; consumes one hit.
  std::optional<FaultRule> take(const std::string& method, const std::string& target);

 private:
  std::mutex mutex_;
  std::vector<FaultRule> rules_;
};

// The file descriptor of this process's TCP connection from remote_port to
// local_port on the loopback interface, or -1.
int find_connection(int local_port, int remote_port);
// Aborts the connection: the client sees it closed with no answer (RST).
void reset_connection(int fd);
// Whether the client has closed its side (a watch client that went away).
bool peer_closed(int fd);

}  // namespace pgscope::kubefake
