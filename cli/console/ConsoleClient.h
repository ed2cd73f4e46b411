// This terminal attached to a clone's console (VmSupervisor.h): what the guest prints goes to
// stdout, what is typed goes to the guest. When stdin is a terminal it is put in raw mode, so
// Ctrl-C and friends reach the guest's shell; Ctrl-] (the key telnet and virsh use) detaches
// and leaves the clone running.
#pragma once

#include <functional>

namespace ingot::cli::console {

constexpr char kDetachKey = 0x1d;  // Ctrl-]

enum class AttachEnd { kVmStopped, kDetached };

// Relays between stdin/stdout and `socket` (closed on return) until the clone stops or the
// user detaches. SIGINT, SIGTERM and SIGHUP (a terminal not in raw mode, a kill, a closed
// window) call `onSignal` when given (`ingot run` stops the clone and keeps relaying until it
// has) and detach otherwise. End of stdin only stops reading it.
AttachEnd attachConsole(int socket, const std::function<void()>& onSignal = {});

}  // namespace ingot::cli::console
