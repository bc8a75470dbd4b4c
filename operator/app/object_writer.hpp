#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "operator/kube/client.hpp"
#include "operator/runtime/store.hpp"

namespace pgscope::op {

// The field manager of every server-side apply the operator makes.
inline constexpr const char* kFieldManager = "pgscope-operator";
// Annotation holding a digest of the body last applied. A server-side apply
// removes fields the manager applied before and omits now, but only if the
// apply is made: comparing live and desired alone cannot see a field we
// stopped setting, so the digest of what we applied says when to apply again.
inline constexpr const char* kAppliedDigestAnnotation = "pgscope.io/applied-digest";

// desired with the digest annotation of its own content added.
nlohmann::json with_applied_digest(nlohmann::json desired);

// True when every field of desired is in live with the same value (extra
// fields in live, as the API server's defaults or other managers' fields, are
// fine); lists must have the same length and match item by item.
bool contains(const nlohmann::json& live, const nlohmann::json& desired);

enum class WriteOutcome { kUnchanged, kCreated, kUpdated };

// Applies desired (already with its digest) unless the cached live object
// already holds it; server-side apply, field manager pgscope-operator, forced:
// the operator owns these objects. The answer is put into the store at once
// so a reconcile that follows before the watch event does not apply again,
// unless the watch already brought a newer state of the object.
// Throws kube::ApiError.
WriteOutcome ensure_object(kube::Client& client, Store& store, const nlohmann::json& desired);

// "ServiceMonitor acid/acid-minimal-cluster-pgscope", for events and logs.
std::string describe_object(const nlohmann::json& object);

}  // namespace pgscope::op
