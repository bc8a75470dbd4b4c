#include "operator/mixin/jsonnet_eval.hpp"

#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

extern "C" {
#include <libjsonnet.h>
}

#include "operator/mixin/embedded_sources.hpp"

namespace pgscope::op {
namespace {

// A string libjsonnet owns (allocated with jsonnet_realloc) as a std::string
// for the caller, released on the way.
char* copy_for_jsonnet(JsonnetVm* vm, const char* data, std::size_t size) {
  char* out = jsonnet_realloc(vm, nullptr, size + 1);
  std::memcpy(out, data, size);
  out[size] = '\0';
  return out;
}

char* import_embedded(void* ctx, const char* base, const char* rel, char** found_here, int* success) {
  auto* vm = static_cast<JsonnetVm*>(ctx);
  const std::string path = resolve_import_path(base ? base : "", rel ? rel : "");
  const auto& sources = embedded_mixin_sources();
  const auto it = sources.find(path);
  if (path.empty() || it == sources.end()) {
    *success = 0;
    const std::string message = std::string("no embedded mixin file for import '") + (rel ? rel : "") +
                                "' from '" + (base ? base : "") + "'";
    return copy_for_jsonnet(vm, message.data(), message.size());
  }
  *success = 1;
  *found_here = copy_for_jsonnet(vm, path.data(), path.size());
  return copy_for_jsonnet(vm, it->second.data(), it->second.size());
}

struct VmDeleter {
  void operator()(JsonnetVm* vm) const { jsonnet_destroy(vm); }
};
using VmPtr = std::unique_ptr<JsonnetVm, VmDeleter>;

VmPtr make_vm(const std::map<std::string, std::string>& ext_code) {
  VmPtr vm(jsonnet_make());
  if (!vm) throw std::runtime_error("jsonnet: cannot create a VM");
  jsonnet_import_callback(vm.get(), import_embedded, vm.get());
  for (const auto& [name, code] : ext_code) jsonnet_ext_code(vm.get(), name.c_str(), code.c_str());
  return vm;
}

// Runs one evaluate call and takes its output (or its error) out of libjsonnet's memory.
template <typename Evaluate>
std::vector<char> run(JsonnetVm* vm, Evaluate evaluate, bool multi) {
  int error = 0;
  char* out = evaluate(&error);
  std::size_t size = 0;
  if (out != nullptr) {
    if (multi && !error) {
      // name\0json\0name\0json\0\0: pairs of strings up to an empty name.
      while (out[size] != '\0') {
        size += std::strlen(out + size) + 1;
        size += std::strlen(out + size) + 1;
      }
      size += 1;
    } else {
      size = std::strlen(out) + 1;
    }
  }
  std::vector<char> result(out, out + size);
  if (out != nullptr) jsonnet_realloc(vm, out, 0);
  if (error) throw std::runtime_error("jsonnet: " + std::string(result.empty() ? "" : result.data()));
  return result;
}

}  // namespace

std::string resolve_import_path(const std::string& base, const std::string& rel) {
  const std::string joined = !rel.empty() && rel[0] == '/' ? rel : base + rel;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= joined.size()) {
    const std::size_t slash = std::min(joined.find('/', start), joined.size());
    const std::string part = joined.substr(start, slash - start);
    if (part == "..") {
      if (parts.empty()) return "";
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  std::string path;
  for (const auto& part : parts) path += (path.empty() ? "" : "/") + part;
  return path;
}

std::string evaluate_jsonnet(const std::string& filename, const std::string& code,
                             const std::map<std::string, std::string>& ext_code) {
  const VmPtr vm = make_vm(ext_code);
  const auto out = run(
      vm.get(),
      [&](int* error) { return jsonnet_evaluate_snippet(vm.get(), filename.c_str(), code.c_str(), error); },
      false);
  return std::string(out.data());
}

std::map<std::string, std::string> evaluate_jsonnet_multi(
    const std::string& filename, const std::string& code,
    const std::map<std::string, std::string>& ext_code) {
  const VmPtr vm = make_vm(ext_code);
  const auto out = run(
      vm.get(),
      [&](int* error) {
        return jsonnet_evaluate_snippet_multi(vm.get(), filename.c_str(), code.c_str(), error);
      },
      true);
  std::map<std::string, std::string> documents;
  std::size_t i = 0;
  while (i + 1 < out.size() && out[i] != '\0') {
    std::string name(out.data() + i);
    i += name.size() + 1;
    std::string text(out.data() + i);
    i += text.size() + 1;
    documents.emplace(std::move(name), std::move(text));
  }
  return documents;
}

}  // namespace pgscope::op
