#include "exporter/listen_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <string>

#include "exporter/options.hpp"

namespace pgscope {
namespace {

bool valid_port(const std::string& text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  port = std::stoi(text);
  return port <= 65535;
}

bool valid_ipv6(const std::string& host) {
  std::string address = host.substr(0, host.find('%'));  // zone, as in fe80::1%eth0
  if (address.size() != host.size() && address.size() + 1 == host.size()) return false;
  in6_addr parsed{};
  return inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
}

bool valid_hostname(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.find_first_not_of("0123456789.") == std::string::npos) {
    in_addr parsed{};
    return inet_pton(AF_INET, host.c_str(), &parsed) == 1;
  }
  std::size_t label = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-' || host[i - label] == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(host[i])) || host[i] == '-' || host[i] == '_') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

std::pair<std::string, int> parse_listen_address(const std::string& listen_address) {
  auto fail = [&](const std::string& why) {
    throw UsageError("invalid listen address \"" + listen_address + "\": " + why +
                     "; expected [host]:port, e.g. \":9187\", \"127.0.0.1:9187\" or \"[::1]:9187\"");
  };
  std::string host;
  std::string port_text;
  if (!listen_address.empty() && listen_address.front() == '[') {
    std::size_t close = listen_address.find(']');
    if (close == std::string::npos) fail("missing \"]\"");
    host = listen_address.substr(1, close - 1);
    if (close + 1 >= listen_address.size() || listen_address[close + 1] != ':') fail("missing port");
    port_text = listen_address.substr(close + 2);
    if (!valid_ipv6(host)) fail("not an IPv6 address inside the brackets");
  } else {
    std::size_t colon = listen_address.rfind(':');
    if (colon == std::string::npos) fail("missing port");
    host = listen_address.substr(0, colon);
    port_text = listen_address.substr(colon + 1);
    if (host.find(':') != std::string::npos) fail("an IPv6 address needs brackets");
    if (host.empty()) {
      host = "0.0.0.0";
    } else if (!valid_hostname(host)) {
      fail("bad host");
    }
  }
  int port = 0;
  if (!valid_port(port_text, port)) fail("port must be a number from 0 to 65535");
  return {host, port};
}

}  // namespace pgscope
