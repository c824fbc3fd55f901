// Calls org.corral1.Manager.Exec on the system bus the way corralctl would (stdio as unix
// fds) and prints the D-Bus error's name and text, which corralctl does not show:
//   exec_error_probe NAME COMMAND [dup]
// prints "exit N" or "ERROR.NAME message"; with `dup` the options carry Cwd twice.
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  sd_bus* bus = nullptr;
  if (sd_bus_open_system(&bus) < 0) return 3;
  sd_bus_message* call = nullptr;
  int r = sd_bus_message_new_method_call(bus, &call, "org.corral1", "/org/corral1", "org.corral1.Manager", "Exec");
  if (r >= 0) r = sd_bus_message_append(call, "sas", argv[1], 1, argv[2]);
  if (r >= 0) r = sd_bus_message_open_container(call, 'a', "{sv}");
  if (r >= 0 && argc > 3 && strcmp(argv[3], "dup") == 0) {
    r = sd_bus_message_append(call, "{sv}", "Cwd", "s", "/");
    if (r >= 0) r = sd_bus_message_append(call, "{sv}", "Cwd", "s", "/tmp");
  }
  if (r >= 0) r = sd_bus_message_close_container(call);
  if (r >= 0) r = sd_bus_message_append(call, "hhh", 0, 1, 2);
  if (r < 0) return 4;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  r = sd_bus_call(bus, call, 10 * 1000000, &error, &reply);
  if (r < 0) {
    printf("%s %s\n", error.name ? error.name : "?", error.message ? error.message : "");
    return 0;
  }
  int status = -1;
  sd_bus_message_read(reply, "i", &status);
  printf("exit %d\n", status);
  return 0;
}
