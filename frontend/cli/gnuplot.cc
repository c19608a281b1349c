#include "frontend/cli/gnuplot.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

extern char** environ;

namespace tierswap {

std::string GnuplotQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';  // doubled inside single quotes
    if (c == '\n') c = ' ';
    out += c;
  }
  return out + "'";
}

bool HasPngSignature(const std::string& path) {
  static constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::ifstream f(path, std::ios::binary);
  unsigned char head[8] = {};
  return f.read(reinterpret_cast<char*>(head), 8) && std::memcmp(head, kSignature, 8) == 0;
}

Result<void> RunGnuplot(const std::string& program, std::string_view script,
                        const std::string& png) {
  // A picture left from an earlier run must not pass for this one's.
  if (unlink(png.c_str()) != 0 && errno != ENOENT) {
    return MakeError(Status::kIoError,
                     "cannot replace '" + png + "': " + std::strerror(errno) + ".");
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return MakeError(Status::kIoError,
                     std::string("cannot create a pipe to gnuplot: ") + std::strerror(errno) + ".");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
  char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
  pid_t pid = -1;
  // A name without '/' is looked up on PATH, as a shell would.
  const int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[0]);
  if (rc != 0) {
    close(fds[1]);
    if (rc == ENOENT) {
      return MakeError(Status::kIoError,
                       "gnuplot is needed to draw the picture, but '" + program +
                           "' was not found: install it (Debian: apt-get install gnuplot-nox; "
                           "scripts/setup.sh does) or name it with --gnuplot PROGRAM.");
    }
    return MakeError(Status::kIoError, "cannot run '" + program + "': " + std::strerror(rc) + ".");
  }

  // gnuplot stops reading when the script has an error; that must surface as its exit status,
  // not kill us with SIGPIPE.
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old);
  size_t done = 0;
  while (done < script.size()) {
    const ssize_t n = write(fds[1], script.data() + done, script.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // gnuplot closed its input; its exit status says why
    done += static_cast<size_t>(n);
  }
  close(fds[1]);
  sigaction(SIGPIPE, &old, nullptr);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return MakeError(Status::kIoError,
                       std::string("cannot wait for gnuplot: ") + std::strerror(errno) + ".");
    }
  }
  if (WIFSIGNALED(status)) {
    return MakeError(Status::kIoError, "'" + program + "' was killed by signal " +
                                           std::to_string(WTERMSIG(status)) + " while drawing '" +
                                           png + "'.");
  }
  if (WEXITSTATUS(status) != 0) {
    return MakeError(Status::kIoError, "'" + program + "' failed (exit status " +
                                           std::to_string(WEXITSTATUS(status)) +
                                           ") while drawing '" + png +
                                           "'; its messages are above.");
  }
  if (!HasPngSignature(png)) {
    return MakeError(Status::kIoError,
                     "'" + program + "' exited normally but '" + png +
                         "' is not a PNG file: does this gnuplot have the pngcairo terminal "
                         "(Debian's gnuplot-nox does)?");
  }
  return {};
}

}  // namespace tierswap
