// Label and field selectors of list and watch requests, parsed and matched as
// k8s.io/apimachinery/pkg/labels and pkg/fields do for the forms clients send.
#pragma once

#include <string>
#include <vector>

#include "support/kube_fake/fake_apiserver.hpp"

namespace pgscope::kubefake {

// `env=prod,tier!=web,app in (a,b),stage notin (x),release,!legacy`;
// throws ApiError 400 on a malformed selector.
class LabelSelector {
 public:
  static LabelSelector parse(const std::string& text);
  bool matches(const json& object) const;
  bool empty() const { return requirements_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

// `metadata.name=x,metadata.namespace!=y`; per kind, the fields kube-apiserver
// supports (metadata.name and metadata.namespace for all, involvedObject.*,
// reason, type, source for v1 Events). Throws ApiError 400 on an unknown field.
class FieldSelector {
 public:
  static FieldSelector parse(const std::string& text, const std::string& kind);
  bool matches(const json& object) const;
  bool empty() const { return requirements_.empty(); }
  // The name an exact `metadata.name=` term pins, or "".
  std::string pinned_name() const;

 private:
  struct Requirement {
    std::string field;
    bool equals;
    std::string value;
  };
  std::vector<Requirement> requirements_;
};

}  // namespace pgscope::kubefake
