#include "ingot/core/Error.h"

#include <cstring>

namespace ingot {

void throwSystemError(const std::string& what, int errnum, ExitStatus status) {
    throw Error(what + ": " + std::strerror(errnum), status);
}

}  // namespace ingot
