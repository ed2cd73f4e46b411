// The distribution spec's error model: an HTTP status plus {"errors":[{"code","message",
// "detail"}]}. Handlers throw RegistryError; the server turns it (and anything else thrown) into
// that JSON, so a bad request is always an answer and never a dropped connection or a crash.
#pragma once

#include <stdexcept>
#include <string>

namespace ingot::registry {

class RegistryError : public std::runtime_error {
public:
    RegistryError(int status, std::string code, const std::string& message, std::string detail = {})
        : std::runtime_error(message),
          status_(status),
          code_(std::move(code)),
          detail_(std::move(detail)) {}
    int status() const { return status_; }
    const std::string& code() const { return code_; }
    const std::string& detail() const { return detail_; }
    // For a 401: the token scope the request needs ("repository:NAME:pull"), for the challenge.
    const std::string& scope() const { return scope_; }
    RegistryError& withScope(std::string scope) {
        scope_ = std::move(scope);
        return *this;
    }

private:
    int status_;
    std::string code_;
    std::string detail_;  // plain text; becomes the "detail" string when not empty
    std::string scope_;
};

// {"errors":[{"code":...,"message":...,"detail":...}]}
std::string errorBody(const std::string& code, const std::string& message,
                      const std::string& detail = {});

}  // namespace ingot::registry
