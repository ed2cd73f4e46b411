#pragma once

#include <termios.h>
#include <unistd.h>

namespace ingot {

// Puts a terminal on stdin into raw mode for as long as it lives, so every key (Ctrl-C
// included) reaches a guest's console, and restores it after; nothing when stdin is a pipe or a
// file. Output keeps its newline translation, so our own diagnostics stay readable.
class RawTerminal {
public:
    RawTerminal() {
        if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) < 0) return;
        termios raw = saved_;
        ::cfmakeraw(&raw);
        raw.c_oflag |= OPOST | ONLCR;
        active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    termios saved_{};
    bool active_ = false;
};

}  // namespace ingot
