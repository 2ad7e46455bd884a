// Helpers shared by the journal, executor, lock and crash tests: private temp folders, byte-exact
// snapshots of a folder tree (read with the standard library, independently of the file step's
// own I/O), and running the journal test driver as a child process (linux/ and win/ halves).
#ifndef STOCKADE_TESTS_PROVISION_JOURNAL_TEST_SUPPORT_H_
#define STOCKADE_TESTS_PROVISION_JOURNAL_TEST_SUPPORT_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace stockade::provision::journal_test {

// A private folder under the system temp folder, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() joined with a relative name ("a/b.txt").
  std::string Sub(const std::string& relative) const;

 private:
  std::string path_;
};

// relative path -> "dir" or "file mode=<octal> <content>", for every entry below `root`.
using Tree = std::map<std::string, std::string>;
Tree SnapshotTree(const std::string& root);
// Readable difference of two snapshots (empty when equal).
std::string DiffTrees(const Tree& expected, const Tree& actual);

void WriteTextFile(const std::string& path, const std::string& content);
std::string ReadTextFile(const std::string& path);  // "" when missing
bool Exists(const std::string& path);

struct ChildResult {
  int exit_code = -1;  // the child's exit status (low 8 bits under Wine)
  std::string output;  // stdout and stderr, interleaved
};
// Runs `args` (args[0] is the program) with `env` added to (or replacing in) this process's
// environment; blocks until it exits.
ChildResult RunChild(const std::vector<std::string>& args,
                     const std::vector<std::pair<std::string, std::string>>& env);

// The journal test driver built next to the test executable.
std::string DriverPath();

// This process's id, as the provision lock writes it.
int CurrentPid();

}  // namespace stockade::provision::journal_test

#endif  // STOCKADE_TESTS_PROVISION_JOURNAL_TEST_SUPPORT_H_
