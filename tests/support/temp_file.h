// Test support: files and folders in the temporary directory, removed when the object goes.
//
//   TempFile config("[placement]\nbackground = false\n");   // a file with these contents
//   TempFile later = TempFile::Named("stats");               // a path, no file yet
//   TempDir dir;                                            // a private folder
//
// Names carry the process id and a counter, so parallel tests never share one.
#ifndef TIERSWAP_TESTS_SUPPORT_TEMP_FILE_H_
#define TIERSWAP_TESTS_SUPPORT_TEMP_FILE_H_

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace tierswap::testing {

inline std::string UniqueTempPath(const std::string& stem, const std::string& suffix) {
  static std::atomic<int> counter{0};
  return (std::filesystem::temp_directory_path() /
          ("tierswap-" + stem + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++) +
           suffix))
      .string();
}

class TempFile {
 public:
  // A file holding `text` (a TOML config, say), named <stem>-<pid>-<n><suffix>.
  explicit TempFile(const std::string& text, const std::string& stem = "test",
                    const std::string& suffix = ".toml")
      : path_(UniqueTempPath(stem, suffix)) {
    std::ofstream(path_) << text;
  }
  // A path nobody has created yet (the code under test creates the file).
  static TempFile Named(const std::string& stem) { return TempFile(NoFile{}, stem); }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }
  const char* c_str() const { return path_.c_str(); }

 private:
  struct NoFile {};
  TempFile(NoFile, const std::string& stem) : path_(UniqueTempPath(stem, "")) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  std::string path_;
};

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/tierswap-test.XXXXXX";
    path_ = mkdtemp(templ.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace tierswap::testing

#endif  // TIERSWAP_TESTS_SUPPORT_TEMP_FILE_H_
