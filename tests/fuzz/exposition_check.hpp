#pragma once

// A strict checker of the Prometheus text exposition format 0.0.4, for the
// fuzz targets (tests/support/prom_text.cpp needs the test support library
// and is lenient where a scrape still works: values through strtod, no UTF-8
// check, interleaved families accepted).
//
// What it holds the text to (each violation carries a kind, so that a known,
// not yet fixed finding can be tolerated while fuzzing on; see
// tolerated_kinds()):
//   syntax           a line that is no comment, HELP, TYPE or sample; text
//                    after the value or timestamp; no line feed at the end
//   metric-name      a name outside [a-zA-Z_:][a-zA-Z0-9_:]*
//   label-name       a label name outside [a-zA-Z_][a-zA-Z0-9_]*
//   reserved-label   a label name starting with "__" (Prometheus reserves
//                    them and drops them from scraped series)
//   duplicate-label  a label name twice in one sample
//   escape           a label value escape other than \\ \" \n, a HELP escape
//                    other than \\ \n, an unterminated label value
//   utf8             a label value or HELP text that is not valid UTF-8
//   value            a value Go's ParseFloat would not read, or NaN/Inf
//                    spelled other than NaN, +Inf, -Inf; a bad timestamp
//   type             an unknown type, a second TYPE, a TYPE after samples
//   help             a second HELP for a family
//   family-order     a family whose lines are not one group (it appears
//                    again after another family)
//   duplicate-series the same series twice in a family (label order does
//                    not matter, and an empty label value is no label, as
//                    Prometheus reads them)
#include <cstddef>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pgscope::fuzz {

struct Violation {
  std::string kind;
  std::size_t line = 0;  // 1-based; 0 for the text as a whole
  std::string message;
};

struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in order, values unescaped
  double value = 0;
  bool has_timestamp = false;
};

struct ParsedFamily {
  std::string name;
  bool has_help = false;
  std::string help;  // unescaped, as Prometheus reads it (leading blanks dropped)
  std::string type;  // "untyped" when there is no TYPE line
  bool typed = false;
  std::vector<ParsedSample> samples;
};

struct CheckResult {
  std::vector<ParsedFamily> families;
  std::vector<Violation> violations;
};

CheckResult check_exposition(const std::string& text);

// Valid UTF-8 as Go's utf8.ValidString has it: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool valid_utf8(const std::string& text);

bool valid_metric_name(const std::string& name);
bool valid_label_name(const std::string& name);

// The kinds named in $PGSCOPE_FUZZ_TOLERATE (comma-separated), read once.
// Empty unless set: by default every kind is a finding.
const std::set<std::string>& tolerated_kinds();

// The violations whose kind is not tolerated.
std::vector<Violation> findings(const std::vector<Violation>& violations);

// Prints `what`, the violations and the (possibly shortened) text to stderr,
// in one block, and aborts: libFuzzer then saves the input.
[[noreturn]] void report_and_abort(const char* target, const std::string& what,
                                   const std::vector<Violation>& violations, const std::string& text);

// A string with control bytes and bytes >= 0x7f shown as \xHH, for reports.
std::string printable(const std::string& text, std::size_t limit = 200);

}  // namespace pgscope::fuzz
