// Kubernetes and Prometheus naming rules the operator must respect before it
// writes anything: invalid names are refused by the API server only after the
// reconcile has started, so they are checked (and explained) up front.
#pragma once

#include <cstdint>
#include <string>

namespace pgscope::op {

// RFC 1123 label: at most 63 of [a-z0-9-], alphanumeric at both ends
// (namespaces, Service names).
bool is_dns_label(const std::string& text);
// RFC 1123 subdomain: dot-separated labels, at most 253 characters (most
// object names, Secret names).
bool is_dns_subdomain(const std::string& text);
// A label key: optional DNS-subdomain prefix and "/", then a name of at most
// 63 of [A-Za-z0-9-_.], alphanumeric at both ends.
bool is_label_key(const std::string& text);
// A label value: empty, or as the name part of a key.
bool is_label_value(const std::string& text);
// A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*.
bool is_prometheus_label_name(const std::string& text);

// prometheus-operator's sanitising of a Kubernetes label key for meta labels:
// every character outside [a-zA-Z0-9_] becomes "_" ("cluster-name" ->
// "cluster_name").
std::string sanitize_label_name(const std::string& key);
// "__meta_kubernetes_pod_label_" + the sanitised key.
std::string pod_label_meta(const std::string& key);

// 64-bit FNV-1a: a hash that is the same on every platform and run, unlike
// std::hash, for names and checksums that must not change between reconciles.
std::uint64_t stable_hash(const std::string& text);
std::string stable_hash_hex(const std::string& text);  // 16 hex digits

// A name that fits a DNS label (Services): returned as is when it does;
// otherwise cut to 54 characters, trailing dashes removed, plus "-" and the
// first 8 hex digits of its hash, so two long names stay distinct and the
// result is the same every time.
std::string fit_dns_label(const std::string& name);

}  // namespace pgscope::op
