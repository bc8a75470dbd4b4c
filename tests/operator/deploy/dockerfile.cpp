#include "dockerfile.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace pgscope::deploytest {

namespace {

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> result;
  for (std::string word; stream >> word;) result.push_back(word);
  return result;
}

std::string upper(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// The simple commands of a shell line: split at &&, ||, ; and |.
std::vector<std::vector<std::string>> shell_commands(const std::string& line) {
  std::vector<std::vector<std::string>> commands(1);
  for (const auto& word : words(line)) {
    if (word == "&&" || word == "||" || word == ";" || word == "|") {
      commands.emplace_back();
    } else if (!word.empty() && word.back() == ';') {
      commands.back().push_back(word.substr(0, word.size() - 1));
      commands.emplace_back();
    } else {
      commands.back().push_back(word);
    }
  }
  return commands;
}

}  // namespace

std::vector<DockerInstruction> DockerStage::all(const std::string& keyword) const {
  std::vector<DockerInstruction> found;
  for (const auto& instruction : instructions) {
    if (instruction.keyword == keyword) found.push_back(instruction);
  }
  return found;
}

std::vector<std::string> DockerStage::apt_packages() const {
  std::vector<std::string> packages;
  for (const auto& run : all("RUN")) {
    for (const auto& command : shell_commands(run.arguments)) {
      size_t i = 0;
      while (i < command.size() && command[i].find('=') != std::string::npos) ++i;  // VAR=value prefixes
      if (i + 1 >= command.size() || (command[i] != "apt-get" && command[i] != "apt")) continue;
      if (command[i + 1] != "install") continue;
      for (size_t j = i + 2; j < command.size(); ++j) {
        if (command[j].rfind('-', 0) != 0) packages.push_back(command[j]);
      }
    }
  }
  return packages;
}

std::vector<DockerStage> read_dockerfile(const std::filesystem::path& file) {
  std::ifstream input(file);
  if (!input) throw std::runtime_error(file.string() + ": cannot read");
  std::vector<DockerStage> stages;
  std::string pending;
  int pending_line = 0;
  int line_number = 0;
  auto finish = [&]() {
    const auto text = trim(pending);
    pending.clear();
    if (text.empty()) return;
    const auto space = text.find_first_of(" \t");
    DockerInstruction instruction{upper(text.substr(0, space)),
                                  space == std::string::npos ? "" : trim(text.substr(space)), pending_line};
    if (instruction.keyword == "FROM") {
      const auto parts = words(instruction.arguments);
      DockerStage stage;
      stage.base_image = parts.empty() ? "" : parts[0];
      if (parts.size() == 3 && upper(parts[1]) == "AS") stage.name = parts[2];
      stages.push_back(stage);
    } else if (stages.empty()) {
      throw std::runtime_error(file.string() + ":" + std::to_string(instruction.line) + ": " +
                               instruction.keyword + " before the first FROM");
    }
    stages.back().instructions.push_back(instruction);
  };
  for (std::string raw; std::getline(input, raw);) {
    ++line_number;
    const auto line = trim(raw);
    // Comment lines end nothing, even inside a continuation (as docker build).
    if (!line.empty() && line[0] == '#') continue;
    if (pending.empty()) pending_line = line_number;
    if (!line.empty() && line.back() == '\\') {
      pending += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    pending += line;
    finish();
  }
  finish();
  if (stages.empty()) throw std::runtime_error(file.string() + ": no FROM");
  return stages;
}

std::vector<std::string> exec_form(const DockerInstruction& instruction) {
  const auto parsed = nlohmann::json::parse(instruction.arguments, nullptr, false);
  if (!parsed.is_array()) {
    throw std::runtime_error(instruction.keyword + " at line " + std::to_string(instruction.line) +
                             " is not in exec form [\"...\"]: " + instruction.arguments);
  }
  return parsed.get<std::vector<std::string>>();
}

std::set<std::string> setup_packages(const std::filesystem::path& setup_script) {
  std::ifstream input(setup_script);
  if (!input) throw std::runtime_error(setup_script.string() + ": cannot read");
  std::set<std::string> packages;
  bool in_list = false;
  for (std::string line; std::getline(input, line);) {
    line = trim(line.substr(0, line.find('#')));
    if (!in_list) {
      in_list = line.rfind("packages=(", 0) == 0;
      continue;
    }
    if (line == ")") return packages;
    for (const auto& word : words(line)) packages.insert(word);
  }
  throw std::runtime_error(setup_script.string() + ": no packages=( ... ) list");
}

}  // namespace pgscope::deploytest
