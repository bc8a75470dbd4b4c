// Parsers for single setting values; each throws UsageError naming `where`
// (the flag or environment variable) and what it expects.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pgscope::op {

std::string quote_for_message(const std::string& text);  // "text", for messages

bool parse_bool_value(const std::string& value, const std::string& where);
int parse_int_value(const std::string& value, const std::string& where, int min, int max);
// "k=v,k2=v2" ("" = none): label keys and values as Kubernetes allows them.
std::map<std::string, std::string> parse_label_list(const std::string& value, const std::string& where);
// "KEY=VALUE", exactly one.
std::pair<std::string, std::string> parse_label_pair(const std::string& value, const std::string& where);
// "a,b,c" of DNS labels ("" = none).
std::vector<std::string> parse_namespace_list(const std::string& value, const std::string& where);
// A Prometheus duration as monitors accept it (units y w d h m s ms, largest
// first, non-zero): returned unchanged.
std::string parse_scrape_duration(const std::string& value, const std::string& where);
// :PORT, HOST:PORT or [IPv6]:PORT.
std::string parse_listen_address(const std::string& value, const std::string& where);
// {username}, {cluster}, {tprkind}, {tprgroup} only.
std::string parse_secret_name_template(const std::string& value, const std::string& where);

// Zalando's secret_name_template applied: "_" in the user name becomes "-",
// as postgres-operator does for the secrets it creates.
std::string format_secret_name(const std::string& name_template, const std::string& username,
                               const std::string& cluster);

}  // namespace pgscope::op
