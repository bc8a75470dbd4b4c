// operator/deploy as kustomize sees it: every file listed, every object
// well-formed and in one namespace, the image and labels in step with the
// Deployment, and a base that applies without prometheus-operator's CRDs.
#include <catch2/catch.hpp>

#include "deploy_files.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_deploy_test_kustomization {

namespace dt = pgscope::deploytest;
using nlohmann::json;

namespace {

std::set<std::string> listed_files(const json& kustomization) {
  std::set<std::string> files;
  for (const auto& resource : kustomization.value("resources", json::array())) {
    files.insert(resource.get<std::string>());
  }
  return files;
}

std::string join(const std::set<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// The kustomizations users apply: the base and the operator's ServiceMonitor.
const std::vector<std::filesystem::path>& kustomization_dirs() {
  static const std::vector<std::filesystem::path> dirs{dt::deploy_dir(), dt::deploy_dir() / "monitoring"};
  return dirs;
}

bool cluster_scoped(const std::string& kind) {
  return kind == "Namespace" || kind == "ClusterRole" || kind == "ClusterRoleBinding";
}

}  // namespace

TEST_CASE("each kustomization lists exactly the manifests beside it", "[deploy]") {
  for (const auto& dir : kustomization_dirs()) {
    INFO(dir.string());
    const auto spec = dt::read_yaml_document(dir / "kustomization.yaml");
    const auto listed = listed_files(spec);
    const auto present = dt::manifest_files(dir);
    std::set<std::string> not_listed, missing;
    for (const auto& file : present) {
      if (listed.count(file) == 0) not_listed.insert(file);
    }
    for (const auto& file : listed) {
      if (present.count(file) == 0) missing.insert(file);
    }
    INFO("files not applied: " << join(not_listed));
    INFO("listed but absent: " << join(missing));
    CHECK(not_listed.empty());
    CHECK(missing.empty());
    CHECK(spec.value("kind", "") == "Kustomization");
  }
}

TEST_CASE("every object has apiVersion, kind and a name", "[deploy]") {
  size_t objects = 0;
  for (const auto& dir : kustomization_dirs()) {
    for (const auto& file : dt::manifest_files(dir)) {
      for (const auto& object : dt::read_yaml_documents(dir / file)) {
        INFO(file << ": " << object.dump());
        ++objects;
        REQUIRE(object.is_object());
        CHECK(!object.value("apiVersion", "").empty());
        CHECK(!object.value("kind", "").empty());
        REQUIRE(object.contains("metadata"));
        CHECK(!object["metadata"].value("name", "").empty());
      }
    }
  }
  // At least the nine of the base and monitoring/: a file that parses to
  // nothing would otherwise pass unseen.
  CHECK(objects >= 9);
}

TEST_CASE("the base applies on a cluster without prometheus-operator's CRDs", "[deploy]") {
  const auto base = dt::read_kustomization(dt::deploy_dir());
  const std::set<std::string> built_in{"v1", "apps/v1", "rbac.authorization.k8s.io/v1"};
  for (const auto& manifest : base.objects) {
    INFO(manifest.file.filename().string() << ": " << manifest.object.value("kind", ""));
    CHECK(built_in.count(manifest.object.value("apiVersion", "")) == 1);
  }
  std::set<std::string> kinds;
  for (const auto& manifest : base.objects) kinds.insert(manifest.object.value("kind", ""));
  CHECK(kinds == std::set<std::string>{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                       "Role", "RoleBinding", "Deployment", "Service"});
}

TEST_CASE("every namespaced object is in the kustomization's namespace", "[deploy]") {
  const auto base = dt::read_kustomization(dt::deploy_dir());
  const auto namespace_name = base.spec.value("namespace", "");
  REQUIRE(!namespace_name.empty());
  CHECK(dt::find_only_object(base, "Namespace")["metadata"].value("name", "") == namespace_name);
  for (const auto& dir : kustomization_dirs()) {
    const auto kustomization = dt::read_kustomization(dir);
    CHECK(kustomization.spec.value("namespace", "") == namespace_name);
    for (const auto& manifest : kustomization.objects) {
      const auto& object = manifest.object;
      const auto kind = object.value("kind", "");
      INFO(manifest.file.filename().string() << ": " << kind);
      if (cluster_scoped(kind)) {
        CHECK(!object["metadata"].contains("namespace"));
      } else {
        // Written out so the files also apply one by one, without kustomize.
        CHECK(object["metadata"].value("namespace", "") == namespace_name);
      }
      for (const auto& subject : object.value("subjects", json::array())) {
        CHECK(subject.value("namespace", "") == namespace_name);
      }
    }
  }
}

TEST_CASE("the images entry names the Deployment's image, so `kustomize edit set image` works", "[deploy]") {
  const auto base = dt::read_kustomization(dt::deploy_dir());
  const auto& deployment = dt::find_only_object(base, "Deployment");
  const auto& containers = deployment["spec"]["template"]["spec"]["containers"];
  REQUIRE(containers.size() == 1);
  const auto image = containers[0].value("image", "");
  const auto images = base.spec.value("images", json::array());
  REQUIRE(images.size() == 1);
  CHECK(images[0].value("name", "") == image);
  // A bare name in the Deployment: kustomize matches images by name, and a
  // tag or registry there would have to be repeated in the entry.
  CHECK(image.find_first_of(":/@") == std::string::npos);
  const auto new_name = images[0].value("newName", "");
  CHECK(new_name.size() > std::string("/pgscope-operator").size());
  CHECK(new_name.substr(new_name.size() - std::string("/pgscope-operator").size()) == "/pgscope-operator");
  CHECK(!images[0].value("newTag", "").empty());
}

TEST_CASE("the common labels name the operator and its pods are selected by them", "[deploy]") {
  for (const auto& dir : kustomization_dirs()) {
    const auto kustomization = dt::read_kustomization(dir);
    const auto labels = kustomization.spec.value("labels", json::array());
    REQUIRE(labels.size() == 1);
    INFO(dir.string() << ": " << labels.dump());
    CHECK(labels[0]["pairs"].value("app.kubernetes.io/name", "") == "pgscope-operator");
  }
  const auto base = dt::read_kustomization(dt::deploy_dir());
  const auto& deployment = dt::find_only_object(base, "Deployment");
  const auto& pod_labels = deployment["spec"]["template"]["metadata"]["labels"];
  const auto& selector = deployment["spec"]["selector"]["matchLabels"];
  REQUIRE(!selector.empty());
  const auto& service_selector = dt::find_only_object(base, "Service")["spec"]["selector"];
  REQUIRE(!service_selector.empty());
  for (const auto* wanted : {&selector, &service_selector}) {
    for (const auto& [key, value] : wanted->items()) {
      INFO("selector " << key << "=" << value.dump() << ", pod labels " << pod_labels.dump());
      CHECK(pod_labels.value(key, json()) == value);
    }
  }
  const auto monitoring = dt::read_kustomization(dt::deploy_dir() / "monitoring");
  const auto& monitor = dt::find_only_object(monitoring, "ServiceMonitor");
  const auto& service = dt::find_only_object(base, "Service");
  // kustomize adds the common labels to the Service; the monitor selects on them.
  for (const auto& [key, value] : monitor["spec"]["selector"]["matchLabels"].items()) {
    const auto common = base.spec["labels"][0]["pairs"];
    const auto own = service["metadata"].value("labels", json::object());
    INFO("ServiceMonitor selects " << key << "=" << value.dump());
    CHECK((common.value(key, json()) == value || own.value(key, json()) == value));
  }
  const auto port_names = [&] {
    std::set<std::string> names;
    for (const auto& port : service["spec"]["ports"]) names.insert(port.value("name", ""));
    return names;
  }();
  for (const auto& endpoint : monitor["spec"]["endpoints"]) {
    CHECK(port_names.count(endpoint.value("port", "")) == 1);
    CHECK(endpoint.value("path", "") == "/metrics");
  }
}

}  // namespace unity_file_deploy_test_kustomization
