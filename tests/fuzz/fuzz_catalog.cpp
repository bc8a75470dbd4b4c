// libFuzzer target for the query-catalog parser (scripts/fuzz catalog).
//
// parse_catalog() may reject its input only with CatalogError: any other
// exception escapes this function and ends the run (std::terminate, with the
// throwing frame on the stack), as do crashes, sanitizer reports and hangs.
// What it accepts must survive dump_catalog(): the dump parses again, with as
// many entries, and dumps to the same text again (a finding of kind "dump",
// which PGSCOPE_FUZZ_TOLERATE=dump passes over to fuzz on past a known one).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "exposition_check.hpp"
#include "postgres/catalog.hpp"

namespace {
bool dump_tolerated() { return pgscope::fuzz::tolerated_kinds().count("dump") > 0; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  pgscope::Catalog catalog;
  try {
    catalog = pgscope::parse_catalog(text, "fuzz");
  } catch (const pgscope::CatalogError&) {
    return 0;  // rejected with a message: what bad input should get
  }

  const std::string dumped = pgscope::dump_catalog(catalog);
  pgscope::Catalog again;
  try {
    again = pgscope::parse_catalog(dumped, "dump");
  } catch (const pgscope::CatalogError& error) {
    if (dump_tolerated()) return 0;
    std::fprintf(stderr, "fuzz_catalog: the dump of an accepted catalog does not parse: %s\n--- dump ---\n%s",
                 error.what(), dumped.c_str());
    std::abort();
  }
  if (again.entries.size() != catalog.entries.size() && !dump_tolerated()) {
    std::fprintf(stderr, "fuzz_catalog: %zu entries parsed, %zu after dump_catalog\n--- dump ---\n%s",
                 catalog.entries.size(), again.entries.size(), dumped.c_str());
    std::abort();
  }
  // And reads back as the same catalog: dumping it again changes nothing.
  if (pgscope::dump_catalog(again) != dumped && !dump_tolerated()) {
    std::fprintf(stderr, "fuzz_catalog: the dump changes when dumped again\n--- dump ---\n%s",
                 dumped.c_str());
    std::abort();
  }
  return 0;
}
