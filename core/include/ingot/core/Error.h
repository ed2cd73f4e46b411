#pragma once

#include <stdexcept>
#include <string>

namespace ingot {

// Exit statuses shared by ingot-vmm and `ingot run` (DESIGN.md, "Exit status").
enum class ExitStatus : int {
    kOk = 0,
    kUsage = 2,
    kVerification = 3,
    kNoKvm = 4,
    kInternal = 5,
};

// An error meant for the user: the message says what failed and where. `status` is the exit
// status a command-line tool should end with when this error reaches its top level.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, ExitStatus status = ExitStatus::kInternal)
        : std::runtime_error(message), status_(status) {}
    ExitStatus status() const { return status_; }

private:
    ExitStatus status_;
};

// A system call failed: appends strerror(errnum) to `what`.
[[noreturn]] void throwSystemError(const std::string& what, int errnum,
                                   ExitStatus status = ExitStatus::kInternal);

}  // namespace ingot
