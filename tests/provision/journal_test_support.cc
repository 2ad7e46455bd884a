#include "journal_test_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <system_error>

namespace stockade::provision::journal_test {
namespace {

namespace fs = std::filesystem;

fs::path FsPath(const std::string& utf8) {
  return fs::path(std::u8string(utf8.begin(), utf8.end()));
}

std::string Utf8(const fs::path& p) {
  auto s = p.u8string();
  return std::string(s.begin(), s.end());
}

std::string Octal(unsigned value) {
  std::ostringstream out;
  out << std::oct << value;
  return out.str();
}

}  // namespace

TempDir::TempDir() {
  std::random_device rd;
  std::ostringstream name;
  name << "stockade-journal-test-" << std::hex << rd() << rd();
  fs::path p = fs::temp_directory_path() / name.str();
  std::error_code ec;
  fs::create_directories(p, ec);
  EXPECT_FALSE(ec) << "creating " << Utf8(p) << ": " << ec.message();
  path_ = Utf8(p);
}

TempDir::~TempDir() {
  std::error_code ec;
  // Read-only files (mode 0444) cannot be deleted on Windows until they are writable again.
  for (auto it = fs::recursive_directory_iterator(FsPath(path_), ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    fs::permissions(it->path(), fs::perms::owner_write, fs::perm_options::add, ec);
  }
  fs::remove_all(FsPath(path_), ec);
}

std::string TempDir::Sub(const std::string& relative) const {
  return Utf8(FsPath(path_) / FsPath(relative).make_preferred());
}

Tree SnapshotTree(const std::string& root) {
  Tree tree;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(FsPath(root), ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto generic = fs::relative(it->path(), FsPath(root)).generic_u8string();
    const std::string rel(generic.begin(), generic.end());
    fs::file_status st = fs::symlink_status(it->path());
    if (fs::is_directory(st)) {
      tree[rel] = "dir";
    } else if (fs::is_regular_file(st)) {
      unsigned mode = static_cast<unsigned>(st.permissions()) & 07777;
      std::ifstream in(it->path(), std::ios::binary);
      std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      tree[rel] = "file mode=" + Octal(mode) + " " + content;
    } else {
      tree[rel] = "other";
    }
  }
  EXPECT_FALSE(ec) << "walking " << root << ": " << ec.message();
  return tree;
}

std::string DiffTrees(const Tree& expected, const Tree& actual) {
  std::string out;
  for (const auto& [path, value] : expected) {
    auto it = actual.find(path);
    if (it == actual.end()) {
      out += "  missing: " + path + " (" + value.substr(0, 40) + ")\n";
    } else if (it->second != value) {
      out += "  differs: " + path + ": expected '" + value.substr(0, 60) + "', got '" +
             it->second.substr(0, 60) + "'\n";
    }
  }
  for (const auto& [path, value] : actual) {
    if (expected.count(path) == 0) out += "  extra: " + path + " (" + value.substr(0, 40) + ")\n";
  }
  return out;
}

void WriteTextFile(const std::string& path, const std::string& content) {
  std::ofstream out(FsPath(path), std::ios::binary | std::ios::trunc);
  out << content;
  EXPECT_TRUE(out.good()) << "writing " << path;
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(FsPath(path), std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(FsPath(path), ec));
}

}  // namespace stockade::provision::journal_test
