// Pieces of the client that users meet only through it, checked directly
// where going through a server could not reach every case.

#include <catch2/catch.hpp>

#include "operator/kube/api_paths.hpp"
#include "operator/kube/api_status.hpp"
#include "operator/kube/base64.hpp"
#include "operator/kube/watch_stream.hpp"

// Its own namespace: the tests are built as a unity build (tests/CMakeLists.txt),
// where file-local helpers of different files would otherwise collide.
namespace unity_file_kube_test_internals {

using namespace pgscope::kube;

TEST_CASE("the line splitter joins pieces split anywhere, including inside CRLF") {
  const std::string stream = "{\"a\":1}\r\n\n{\"b\":\"x\\ny\"}\n{\"c\":3}";
  for (std::size_t cut1 = 0; cut1 <= stream.size(); ++cut1) {
    for (std::size_t cut2 = cut1; cut2 <= stream.size(); ++cut2) {
      LineSplitter splitter;
      std::vector<std::string> lines;
      const auto collect = [&](const std::string& line) { lines.push_back(line); };
      splitter.feed(stream.data(), cut1, collect);
      splitter.feed(stream.data() + cut1, cut2 - cut1, collect);
      splitter.feed(stream.data() + cut2, stream.size() - cut2, collect);
      REQUIRE(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":\"x\\ny\"}"});
      REQUIRE(splitter.rest() == "{\"c\":3}");
    }
  }
}

TEST_CASE("watch lines: events, bookmarks and errors") {
  const WatchEvent bookmark =
      parse_watch_line(R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"7"}}})");
  CHECK(bookmark.type == "BOOKMARK");
  CHECK(bookmark.object["metadata"]["resourceVersion"] == "7");
  try {
    parse_watch_line(
        R"({"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Gone","code":410}})");
    FAIL("ERROR not thrown");
  } catch (const ApiError& error) {
    CHECK(error.expired());
  }
  try {
    parse_watch_line(R"({"type":"ERROR","object":{"kind":"Status","reason":"Expired","message":"old"}})");
    FAIL("ERROR not thrown");
  } catch (const ApiError& error) {
    CHECK(error.expired());  // reason alone is enough, whatever the code
    CHECK(error.message() == "old");
  }
  CHECK_THROWS_AS(parse_watch_line(R"({"type":"SURPRISE","object":{}})"), ApiError);
  CHECK_THROWS_AS(parse_watch_line(R"({"type":"ADDED"})"), ApiError);
  CHECK_THROWS_AS(parse_watch_line("[1,2]"), ApiError);
}

TEST_CASE("Retry-After as seconds or as an HTTP date") {
  CHECK(parse_retry_after(" 12\r\n") == std::chrono::seconds(12));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == std::chrono::seconds(0));
  CHECK(parse_retry_after("garbage") == std::chrono::seconds(0));
  CHECK(parse_retry_after("99999999999") == std::chrono::seconds(86400));
}

TEST_CASE("base64 as in kubeconfig data fields") {
  CHECK(base64_decode("aGVsbG8=") == std::optional<std::string>("hello"));
  CHECK(base64_decode("aGVs\nbG8h") == std::optional<std::string>("hello!"));
  CHECK(base64_decode("aGVsbA==") == std::optional<std::string>("hell"));
  CHECK_FALSE(base64_decode("aGVsbG8"));
  CHECK_FALSE(base64_decode("aG=sbG8="));
  CHECK_FALSE(base64_decode("-----BEGIN"));
}

TEST_CASE("paths and queries are percent-encoded") {
  CHECK(percent_encode("a b+c/d~e") == "a%20b%2Bc%2Fd~e");
  Query query;
  query.add("labelSelector", "x in (a,b)").add("limit", 0LL).add("empty", "").add("limit", 5LL);
  CHECK(query.str() == "?labelSelector=x%20in%20%28a%2Cb%29&limit=5");
  CHECK(Query().str().empty());
  ResourceType cluster_scoped{"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false};
  CHECK(object_path(cluster_scoped, "ignored", "view") ==
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/view");
}

}  // namespace unity_file_kube_test_internals
