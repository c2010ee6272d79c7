// Helper servers for integration tests, run as child processes on free local ports: a real
// SMTP server (aiosmtpd from Debian, writing a maildir), a real Redis, and any script that listens.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace recur::testing {

// A port nothing listens on right now (the kernel's pick for an ephemeral bind).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline bool accepts_connections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Waits until something listens on `port`, checking every 20 ms, for at most `bound`.
inline bool wait_for_port(int port, std::chrono::milliseconds bound = std::chrono::seconds(15)) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (accepts_connections(port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// A child process, ended (SIGTERM, then SIGKILL after 5 s) when this goes away. Its output
// goes to `log_path`.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  pid_t pid_ = -1;
};

inline std::filesystem::path fresh_temp_dir(const std::string& name) {
  static int counter = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("recur-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A real SMTP server (python3 -m aiosmtpd with its Mailbox handler): every message it
// accepts is a file in maildir/new before the server answers 250.
class SmtpServer {
 public:
  explicit SmtpServer(int port = free_port()) : port_(port), dir_(fresh_temp_dir("smtp")) {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                                 "127.0.0.1:" + std::to_string(port_), "-c", "aiosmtpd.handlers.Mailbox",
                                 (dir_ / "maildir").string()},
        (dir_ / "server.log").string());
    if (!wait_for_port(port_)) throw std::runtime_error("the SMTP server did not start: " + read_file(dir_ / "server.log"));
  }
  ~SmtpServer() {
    process_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  int port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  // Every message received so far, raw (headers and body; line ends as the maildir wrote them).
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    auto fresh = dir_ / "maildir" / "new";
    if (!std::filesystem::exists(fresh)) return out;
    for (const auto& entry : std::filesystem::directory_iterator(fresh)) out.push_back(read_file(entry.path()));
    return out;
  }

 private:
  int port_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> process_;
};

// `name` found on PATH (posix_spawn wants a path), or "" when it is not there.
inline std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(std::string(path ? path : "") + ":/usr/local/bin:/usr/bin:/usr/sbin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    auto candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// A real Redis (redis-server from scripts/install-deps.sh, nothing written to disk). stop()
// then start() again on the same port is an outage.
class RedisServer {
 public:
  RedisServer() : port_(free_port()), dir_(fresh_temp_dir("redis")) { start(); }
  ~RedisServer() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void start() {
    auto program = find_program("redis-server");
    if (program.empty()) throw std::runtime_error("redis-server is not installed: run scripts/install-deps.sh");
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{program, "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", dir_.string()},
        (dir_ / "server.log").string());
    if (!wait_for_port(port_)) throw std::runtime_error("redis-server did not start: " + read_file(dir_ / "server.log"));
  }
  void stop() { process_.reset(); }  // SIGTERM, and waits for it to exit
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace recur::testing
