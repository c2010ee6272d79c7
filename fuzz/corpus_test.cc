// Replays fuzz/corpus/<target>/ (seeds, and every input a fuzzer ever crashed on) through
// the fuzz targets (fuzz/targets.h) in the normal build: an input that once broke a
// target must not break it again. A broken invariant aborts the test binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "targets.h"

namespace recur::fuzz {
namespace {

std::vector<std::filesystem::path> corpus(const std::string& target) {
  std::filesystem::path dir = std::filesystem::path(RECUR_SOURCE_DIR) / "fuzz" / "corpus" / target;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void replay(const std::string& target, const std::function<void(std::string_view)>& run) {
  auto files = corpus(target);
  ASSERT_FALSE(files.empty()) << "fuzz/corpus/" << target << " holds no inputs";
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::string bytes = read_all(file);
    run(bytes);
  }
}

TEST(FuzzCorpus, HttpRequest) { replay("http_request", http_request); }
TEST(FuzzCorpus, JsonFields) { replay("json_fields", json_fields); }
TEST(FuzzCorpus, WebhookSignatures) { replay("webhook_signatures", webhook_signatures); }

}  // namespace
}  // namespace recur::fuzz
